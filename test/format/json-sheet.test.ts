import { describe, expect, it } from 'vitest';
import type { Columns, Row, SheetEncoding, Value } from '../../src/core/types.ts';
import { JsonSheetTranscoder } from '../../src/format/json-sheet.ts';
import { SheetDataEncoder, SheetDataParser, SheetPieces } from '../../src/format/xlsx-sheet-data.ts';
import { SHEET_STYLES } from '../../src/format/xlsx-sheet-xml.ts';
import { type SheetSummary, sheetSummary } from '../support/xlsx.ts';

const columns: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'label', type: 'text' },
  { name: 'at', type: 'timestamp' },
];

const TEXTS: Value[] = ['', 'plain', 'say "hi"', 'back\\slash', 'line\nbreak', 'tab\there', 'a & b <c>', '_x0041_', 'snake_case', ' lead', 'trail ', 'Zoë', 'ends é', 'control\u0001', 'mid\uFFFFdle', 'x'.repeat(33_000), '\u00a0nbsp', 12, 1.5, -0.25, 0.1, null, 9_007_199_254_740_993n];
const INTS: Value[] = [0, -7, 123_456_789_012_345, 9_007_199_254_740_991, 9_007_199_254_740_993n, -9_223_372_036_854_775_808n, 2.5, 0.1, 'text in an integer column', 'needs & escape', null];
const TIMES: Value[] = ['2026-02-30T00:00:00.000Z', '2026-01-22T14:02:58.440Z', '1900-03-01T00:00:00.000Z', '1900-02-28T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '2024-02-29T12:00:00.000Z', '2026-01-31T00:00:00.001Z', '0044-03-15T12:00:00.500Z', '12345-01-01T00:00:00.000Z', 'not a time', '2026-01-22 14:02:58', 42, null];

/** The rows as the row path reads them (safe integers as numbers, others as BigInt). */
function awkwardRows(count: number): Row[] {
  return Array.from({ length: count }, (_, i) => [INTS[i % INTS.length]!, TEXTS[i % TEXTS.length]!, TIMES[i % TIMES.length]!]);
}

/** A page as SQLite's json_array() writes it: integers' exact digits, reals to 17 digits (`%!.17g`), strings JSON-escaped. */
function jsonPage(rows: readonly Row[]): Buffer {
  const cell = (v: Value) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(17) : JSON.stringify(v));
  return Buffer.from(rows.map((row) => `[${row.map(cell).join(',')}]`).join('\n'), 'utf8');
}

function rowPath(rows: readonly Row[], encoding: SheetEncoding, batchSize: number, sized = false): SheetSummary {
  const encoder = new SheetDataEncoder(columns, { maxRowsPerSheet: encoding.maxRowsPerSheet, styles: encoding.styles }, encoding.firstRow ?? 0, sized);
  const pieces = new SheetPieces();
  for (let i = 0; i < rows.length; i += batchSize) encoder.encode(rows.slice(i, i + batchSize), pieces);
  return sheetSummary(pieces.take());
}

/** The transcoder over pages of `pageRows` rows; `asValues(i)`: page i comes as values (text that is not UTF-8). */
function transcoded(rows: readonly Row[], encoding: SheetEncoding, sampleRows: number | undefined, pageRows: number, asValues: (page: number) => boolean = () => false): SheetSummary {
  const transcoder = new JsonSheetTranscoder(columns, encoding, sampleRows);
  const out: Buffer[] = [];
  for (let i = 0, page = 0; i < rows.length; i += pageRows, page++) {
    const slice = rows.slice(i, i + pageRows);
    // A copy: the transcoder's result is a view its next call overwrites.
    out.push(Buffer.from(asValues(page) ? transcoder.transcodeValues(slice.map((row) => [...row])) : transcoder.transcode(jsonPage(slice))));
  }
  out.push(transcoder.finish());
  const parser = new SheetDataParser();
  const pieces = parser.push(Buffer.concat(out));
  expect(parser.incomplete).toBe(false);
  return sheetSummary(pieces);
}

const SHEET: SheetEncoding = { format: 'xlsx-sheet', maxRowsPerSheet: 1_048_576, styles: SHEET_STYLES, firstRow: 0 };

describe('JSON rows to XLSX sheet rows (pure)', () => {
  it('writes the row path’s XML, widths and warnings for awkward values, whatever the page size', () => {
    const rows = awkwardRows(150);
    const expected = rowPath(rows, SHEET, 40);
    expect(expected.issues.length).toBeGreaterThan(0);
    for (const pageRows of [1, 7, 40, 150]) expect(transcoded(rows, SHEET, 40, pageRows), `pages of ${pageRows}`).toEqual(expected);
  });

  it('takes pages read as values among JSON pages', () => {
    const rows = awkwardRows(90);
    expect(transcoded(rows, SHEET, 30, 10, (page) => page % 3 === 1)).toEqual(rowPath(rows, SHEET, 30));
  });

  it('starts new sheets where the row path does; a later part writes no widths', () => {
    const rows = awkwardRows(23);
    for (const encoding of [{ ...SHEET, maxRowsPerSheet: 4 }, { ...SHEET, maxRowsPerSheet: 5, firstRow: 8 }]) {
      expect(transcoded(rows, encoding, 5, 3), JSON.stringify(encoding)).toEqual(rowPath(rows, encoding, 5));
      const later = transcoded(rows, encoding, undefined, 3);
      expect(later).toEqual(rowPath(rows, encoding, 5, true));
      expect(later.records.some((record) => 'widths' in (record as object))).toBe(false);
    }
  });

  it('sizes the columns from the rows it has when the export is shorter than a batch, and writes nothing for none', () => {
    const rows = awkwardRows(6);
    expect(transcoded(rows, SHEET, 1000, 4)).toEqual(rowPath(rows, SHEET, 1000));
    expect(new JsonSheetTranscoder(columns, SHEET, 1000).finish().length).toBe(0);
  });

  it('fails on a page that ends in the middle of a value', () => {
    expect(() => new JsonSheetTranscoder(columns, SHEET, 10).transcode(Buffer.from('[1,"abc'))).toThrow(/ended in the middle of a value/);
  });
});
