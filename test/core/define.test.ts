import { describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import type { PipelineDefinition } from '../../src/core/types.ts';
import { bundled } from '../support/app.ts';
import { csvSink } from '../../src/sinks/csv.ts';
import { sqlSelect } from '../../src/sources/sql-select.ts';
import { TICKET_COLUMNS, ticketColumns } from '../../raffle/tickets.ts';
import { sqlKeyset } from '../../src/sources/sql-keyset.ts';
import { sqlUpdate } from '../../src/sinks/sql-update.ts';
import { txtSink } from '../../src/sinks/txt.ts';
import { mapRows } from '../../src/transforms/map-rows.ts';
import { selectColumns } from '../../src/transforms/select-columns.ts';

const base: PipelineDefinition = {
  name: 'example',
  description: 'An example',
  params: {},
  source: sqlSelect({ summary: 'tickets', table: 'tickets', columns: TICKET_COLUMNS, orderBy: 'id' }),
  transforms: [],
  sink: csvSink(),
};

function definitionError(def: Partial<PipelineDefinition>): string {
  try {
    definePipeline({ ...base, ...def });
  } catch (error) {
    expect(error).toMatchObject({ code: 'INVALID_DEFINITION', exitCode: 2 });
    return (error as Error).message;
  }
  throw new Error('expected a definition error');
}

describe('pipeline definitions', () => {
  it('merge component parameters and add batchSize', () => {
    const pipeline = definePipeline(base);
    expect(Object.keys(pipeline.allParams)).toEqual(['bom', 'escapeFormulas', 'batchSize']);
  });

  it.each([
    [{ name: 'Bad Name' }, /the name must be kebab-case/],
    [{ description: '' }, /a description is required/],
    [{ params: { bom: { type: 'boolean', description: 'again' } } }, /parameter "bom" is declared twice \(again by sink.csv\)/],
    [{ params: { batchSize: { type: 'integer', description: 'mine' } } }, /parameter "batchSize" is reserved/],
    [{ params: { limit: { type: 'integer', min: 5, max: 1, description: 'limit' } } }, /Parameter "limit" has min 5 above max 1/],
    [{ params: { limit: { type: 'integer', min: 1, default: 0, description: 'limit' } } }, /default of "limit" is invalid/],
    [{ params: { 'sold-from': { type: 'date', description: 'x' } } }, /must be camelCase/],
    [{ params: { out: { type: 'string', description: 'mine' } } }, /parameter "out" is reserved/],
  ] as Array<[Partial<PipelineDefinition>, RegExp]>)('refuse %j when they load', (def, message) => {
    expect(definitionError(def)).toMatch(message);
  });

  it('every pipeline in pipelines/ loads, is named after its file and describes its parameters', async () => {
    const pipelines = await bundled;
    expect([...pipelines.keys()]).toEqual(expect.arrayContaining(['seed-tickets', 'export-all-tickets', 'number-barcode', 'export-all-barcodes', 'export-csv']));
    for (const pipeline of pipelines.values()) {
      for (const spec of Object.values(pipeline.allParams)) expect(spec.description.length).toBeGreaterThan(3);
    }
  });
});

describe('checked definitions: a typo fails when the pipeline is defined, naming the pipeline, the part and the name', () => {
  const source = (overrides: Partial<Parameters<typeof sqlSelect>[0]> = {}) =>
    sqlSelect({ summary: 'tickets', table: 'tickets', columns: TICKET_COLUMNS, orderBy: 'id', ...overrides });

  it.each([
    [
      'a filter on an undeclared parameter',
      { params: { status: { type: 'enum', values: ['sold'], description: 's' } }, source: source({ filters: [{ op: 'equals', param: 'stauts', column: 'status' }] }) },
      /^Pipeline "example": source\.sql-select: the equals filter on status reads parameter "stauts", which nothing declares \(a filter on an undeclared parameter would export every row\)\. Did you mean "status"\?$/,
    ],
    [
      'a limit on an undeclared parameter',
      { params: { limit: { type: 'integer', description: 'l' } }, source: source({ limitParam: 'limt' }) },
      /^Pipeline "example": source\.sql-select: the limit reads parameter "limt", which nothing declares.*Did you mean "limit"\?$/,
    ],
    [
      'a selected column that the rows do not have',
      { transforms: [selectColumns(['id', 'barcod'])] },
      /^Pipeline "example": transform\.select-columns: no column "barcod" \(the rows have id, ticket_number, barcode, .*\)\. Did you mean "barcode"\?$/,
    ],
    [
      'a one-value-per-line sink fed several columns',
      { sink: txtSink() },
      /^Pipeline "example": sink\.txt: writes one value per line, but the rows have 13 columns/,
    ],
    [
      'an update keyed on a column the rows do not have',
      { sink: sqlUpdate({ table: 'tickets', key: 'ids', columns: ['barcode'] }) },
      /^Pipeline "example": sink\.sql-update: no column "ids" .*Did you mean "id"\?$/,
    ],
    [
      'a keyset source whose key is not among its columns',
      { source: sqlKeyset({ summary: 'pages', table: 'tickets', columns: ticketColumns('id', 'barcode'), key: 'idd' }) },
      /^Pipeline "example": source\.sql-keyset: no column "idd" \(the rows have id, barcode\)\. Did you mean "id"\?$/,
    ],
    [
      'a transform that declares columns it cannot make',
      { transforms: [mapRows({ summary: 'm', columns: (input) => [...input, ...ticketColumns('nonexistent')], map: () => (row) => row })] },
      /^Pipeline "example": transform\.map-rows: .*no column "nonexistent"/,
    ],
  ] as Array<[string, Partial<PipelineDefinition>, RegExp]>)('%s', (_what, def, message) => {
    expect(definitionError(def)).toMatch(message);
  });

  it('a mapping whose rows do not have the declared columns fails on the first row, before a shifted value reaches a file', async () => {
    const { runPipeline } = await import('../../src/index.ts');
    const { scratchDir } = await import('../support/sqlite.ts');
    const { seedTickets } = await import('../support/tickets.ts');
    const dir = scratchDir();
    try {
      const url = `sqlite:${dir.file('t.db')}`;
      await seedTickets(url);
      const short = definePipeline({ ...base, transforms: [mapRows({ summary: 'drops a value', map: () => (row) => row.slice(1) })] });
      const { PassThrough } = await import('node:stream');
      const output = { description: 'nowhere', open: () => [new PassThrough()] };
      await expect(runPipeline(short, { database: url, output })).rejects.toThrow(/the mapping returns rows of 12 values, but 13 columns are declared/);
    } finally {
      dir.remove();
    }
  });
});

describe('pipeline folders', () => {
  it('refuse two pipelines of the same name, naming both files', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { scratchDir } = await import('../support/sqlite.ts');
    const { loadPipelines } = await import('../../src/core/registry.ts');
    const dir = scratchDir();
    try {
      const pipelineFile = (name: string) => `import { definePipeline, sqlSelect, csvSink } from '${new URL('../../src/index.ts', import.meta.url).href}';
export default definePipeline({ name: '${name}', description: 'x', params: {}, source: sqlSelect({ summary: 's', table: 't', columns: [{ name: 'id', type: 'integer' }], orderBy: 'id' }), transforms: [], sink: csvSink() });
`;
      for (const folder of ['a', 'b']) {
        mkdirSync(dir.file(folder));
        writeFileSync(dir.file(`${folder}/export-x.ts`), pipelineFile('export-x'));
      }
      await expect(loadPipelines([dir.file('a'), dir.file('b')])).rejects.toThrow(`Two pipelines are named "export-x": ${dir.file('a/export-x.ts')} and ${dir.file('b/export-x.ts')}.`);
      writeFileSync(dir.file('a/misnamed.ts'), pipelineFile('something-else'));
      await expect(loadPipelines(dir.file('a'))).rejects.toThrow(/misnamed\.ts: defines "something-else"; a pipeline file is named after its pipeline/);
    } finally {
      dir.remove();
    }
  });
});
