import { describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import type { PipelineDefinition } from '../../src/core/types.ts';
import { loadPipelines } from '../../src/core/registry.ts';
import { csvSink } from '../../src/sinks/csv.ts';
import { demoTickets } from '../../src/sources/demo-tickets.ts';
import { sqlSelect } from '../../src/sources/sql-select.ts';
import { TICKET_COLUMNS } from '../../src/db/tickets.ts';

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
    [{ source: demoTickets(), requireRows: { message: 'none' } }, /requireRows needs a source that can count/],
  ] as Array<[Partial<PipelineDefinition>, RegExp]>)('refuse %j when they load', (def, message) => {
    expect(definitionError(def)).toMatch(message);
  });

  it('every pipeline in pipelines/ loads, is named after its file and describes its parameters', async () => {
    const pipelines = await loadPipelines();
    expect([...pipelines.keys()]).toEqual(expect.arrayContaining(['seed-tickets', 'export-all-tickets', 'number-barcode', 'export-all-barcodes', 'export-csv']));
    for (const pipeline of pipelines.values()) {
      for (const spec of Object.values(pipeline.allParams)) expect(spec.description.length).toBeGreaterThan(3);
    }
  });
});
