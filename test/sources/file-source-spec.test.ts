import { describe, expect, it } from 'vitest';
import { csvSource } from '../../src/sources/csv-file.ts';
import { fileSource } from '../../src/sources/file-input.ts';
import { ndjsonSource } from '../../src/sources/ndjson-file.ts';
import { xlsxSource } from '../../src/sources/xlsx-file.ts';

const columns = [
  { name: 'id', type: 'integer' as const, required: true },
  { name: 'note', type: 'text' as const },
];

describe('file sources', () => {
  it.each([
    ['csvSource', csvSource],
    ['ndjsonSource', ndjsonSource],
    ['xlsxSource', xlsxSource],
    ['fileSource', fileSource],
  ])('%s refuses a mapping to a column the import does not have when the pipeline is defined', (_name, source) => {
    expect(() => source({ columns, mapping: { Remark: 'notes' } })).toThrow(expect.objectContaining({ code: 'INVALID_DEFINITION', message: 'The mapping sends "Remark" to "notes", which is not a column of the import (id, note).' }));
    expect(source({ columns, mapping: { Remark: 'note' } }).columns).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'note', type: 'text' },
    ]);
  });
});
