/**
 * Type tests: `npm test` runs `tsc --noEmit` first, so a type that collapses to `any` or
 * `unknown`, or a wrong parameter name that compiles, fails the suite (each `@ts-expect-error`
 * below fails the compilation when its line stops being an error).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type exportCsv from '../../pipelines/export-csv.ts';
import type migrate from '../../pipelines/migrate-8digit-barcodes.ts';
import {
  type Database,
  type ParamValuesOf,
  csvSink,
  definePipeline,
  filterRows,
  mapRows,
  pipelineHandler,
  runPipeline,
  sqlSelect,
} from '../../src/index.ts';

const columns = [
  { name: 'id', type: 'integer' },
  { name: 'price', type: 'integer' },
  { name: 'status', type: 'text' },
] as const;

const vip = definePipeline({
  name: 'typed',
  description: 'Typed parameters',
  params: { region: { type: 'string', description: 'A region' } },
  preflight: async (ctx) => {
    expectTypeOf(ctx.params.region).toEqualTypeOf<string | undefined>();
  },
  source: sqlSelect({
    summary: 'rows',
    table: 't',
    columns,
    orderBy: 'id',
    filters: [{ op: 'equals', param: 'status', column: 'status' }],
    params: { status: { type: 'enum', values: ['sold', 'void'], description: 'Status' } },
  }),
  transforms: [
    filterRows({
      summary: 'at or above a price',
      params: { minPrice: { type: 'integer', min: 0, default: 1000, description: 'Lowest price' }, strict: { type: 'boolean', description: 'Strict' } },
      predicate: (params) => {
        expectTypeOf(params.minPrice).toEqualTypeOf<number>();
        expectTypeOf(params.minPrice).not.toBeAny();
        expectTypeOf(params.strict).toEqualTypeOf<boolean | undefined>();
        // @ts-expect-error the predicate sees the parameters it declared, not a typo
        void params.minPrize;
        return (row) => Number(row[1]) >= params.minPrice;
      },
    }),
    mapRows({
      summary: 'labels',
      params: { label: { type: 'enum', values: ['a', 'b'], default: 'a', description: 'Label' } },
      map: (params) => {
        expectTypeOf(params.label).toEqualTypeOf<'a' | 'b'>();
        return (row) => row;
      },
    }),
  ],
  sink: csvSink(),
});

type All = typeof vip.allParams;
type Values = ParamValuesOf<All>;

describe('typed definitions', () => {
  it('give every parameter of a pipeline its type, from whichever part declares it', () => {
    expectTypeOf<keyof All>().toEqualTypeOf<'region' | 'status' | 'minPrice' | 'strict' | 'label' | 'bom' | 'escapeFormulas' | 'batchSize'>();
    expectTypeOf<Values['status']>().toEqualTypeOf<'sold' | 'void' | undefined>();
    expectTypeOf<Values['minPrice']>().toEqualTypeOf<number>();
    expectTypeOf<Values['bom']>().toEqualTypeOf<boolean>();
    expectTypeOf<Values['batchSize']>().toEqualTypeOf<number>();
    expectTypeOf<Values['region']>().not.toBeUnknown();
    expect(Object.keys(vip.allParams).sort()).toEqual(['batchSize', 'bom', 'escapeFormulas', 'label', 'minPrice', 'region', 'status', 'strict']);
  });

  it('check run and route parameters against the pipeline where they are literals', () => {
    const database = {} as Database;
    const check = (): void => {
      void runPipeline(vip, { database, params: { minPrice: 5, status: 'sold', bom: true, batchSize: '500', strict: 'yes' } });
      // @ts-expect-error an unknown parameter
      void runPipeline(vip, { database, params: { minPrize: 5 } });
      // @ts-expect-error a value outside the enum
      void runPipeline(vip, { database, params: { status: 'lost' } });
      // @ts-expect-error a date or text parameter takes text, a number is a mistake
      void runPipeline(vip, { database, params: { region: 5 } });
      pipelineHandler(vip, { database, params: { status: 'sold' } });
      // @ts-expect-error an unknown route parameter
      pipelineHandler(vip, { database, params: { statuss: 'sold' } });
    };
    expect(typeof check).toBe('function');
  });

  it('give a component only the parameters it declares', () => {
    filterRows({
      summary: 'reads what it did not declare',
      predicate: (params) => {
        expectTypeOf(params).toEqualTypeOf<ParamValuesOf<{}>>();
        // @ts-expect-error a parameter declared elsewhere (or nowhere) is not the predicate's to read
        void params.minPrice;
        return () => true;
      },
    });
  });

  it('type the bundled pipelines too', () => {
    type Csv = ParamValuesOf<(typeof exportCsv)['allParams']>;
    expectTypeOf<Csv['status']>().toEqualTypeOf<'available' | 'sold' | 'void' | 'redeemed' | undefined>();
    expectTypeOf<Csv['limit']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Csv['soldFrom']>().toEqualTypeOf<string | undefined>();
    type Migration = ParamValuesOf<(typeof migrate)['allParams']>;
    expectTypeOf<Migration['dryRun']>().toEqualTypeOf<boolean>();
    expectTypeOf<Migration['backup']>().toEqualTypeOf<string | undefined>();
  });
});
