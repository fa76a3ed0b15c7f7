import { describe, expect, it } from 'vitest';
import type { Columns, Row, SheetEncoding, Value } from '../../src/core/types.ts';
import { type PgSheetKind, PgBinarySheetTranscoder } from '../../src/format/pg-binary-sheet.ts';
import { writeTimestamp } from '../../src/format/pg-timestamp.ts';
import { SheetDataEncoder, SheetDataParser, SheetPieces } from '../../src/format/xlsx-sheet-data.ts';
import { SHEET_STYLES } from '../../src/format/xlsx-sheet-xml.ts';
import { type Cell, EPOCH_2000_MS, binaryCopy, inPieces, micros } from '../support/pg-binary.ts';
import { type SheetSummary, sheetSummary } from '../support/xlsx.ts';

const columns: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'label', type: 'text' },
  { name: 'amount', type: 'integer' },
  { name: 'at', type: 'timestamp' },
];
const kinds: PgSheetKind[] = ['int', 'text', 'numeric', 'timestamp'];

const LONG = 'x'.repeat(32_766) + '🎉';
const TEXTS = ['', 'plain', 'a & b', '<tag>', 'x > y', '_x0041_ literal', 'snake_case_name', 'a_x00g_b', 'trailing ', ' leading', 'tab\there', 'line\nbreak', 'cr\rhere', '\u00a0nbsp first', 'nbsp last\u00a0', 'Zoë', 'Ünïcødé 🎟️ 日本', 'control\u0001char', 'not a char \uFFFE', 'mid\uFFFFdle', 'a \uFB01 b', 'ﬁ ligature (U+FB01)', '=SUM(A1)', '+1 (555) 010-9999', LONG, 'y'.repeat(40_000)];
const INTS = ['0', '-5', '123456789012345', '-123456789012345', '1234567890123456', '9007199254740991', '9007199254740992', '-9223372036854775808'];
const NUMERICS = ['12.50', 'NaN', '-0.001', '42'];
const DAY_MS = 86_400_000;

/** Timestamps around Excel's date range, as microseconds since 2000, and the value the row path's to_char gives (null for ±infinity). */
function timestamps(): Array<[bigint, string | null]> {
  const days = (year: number) => BigInt(new Date(0).setUTCFullYear(year, 0, 1) - EPOCH_2000_MS) * 1000n;
  const list: bigint[] = [
    micros('2026-01-22T14:02:58.440Z') + 999n,
    micros('1900-03-01T00:00:00.000Z'),
    micros('1900-02-28T23:59:59.999Z'),
    micros('9999-12-31T23:59:59.999Z') + 999n,
    micros('2024-02-29T00:00:00.000Z'),
    micros('2026-01-31T23:00:00.001Z'),
    micros('1969-12-31T23:59:59.999Z'),
    -1n,
    days(44),
    days(-43),
    days(-1999), // 2000 BC: to_char writes 2000, which the row path then reads as 2000 AD
    days(12345),
    BigInt(1e6 * DAY_MS),
    0x7fffffffffffffffn,
    -0x8000000000000000n,
  ];
  return list.map((us) => {
    const value = Buffer.alloc(8);
    value.writeBigInt64BE(us);
    const out = Buffer.alloc(64);
    const end = writeTimestamp(out, 0, value.readInt32BE(0), value.readUInt32BE(4));
    return [us, end === 0 ? null : out.toString('latin1', 0, end)];
  });
}

/** The same rows as binary cells and as the values the cursor gives the row path (int8 as number or bigint, numeric as its text). */
function awkwardRows(count: number): { cells: Cell[][]; values: Row[] } {
  const times = timestamps();
  const cells: Cell[][] = [];
  const values: Row[] = [];
  for (let i = 0; i < count; i++) {
    const id = INTS[i % INTS.length]!;
    const label = i % 7 === 6 ? null : TEXTS[i % TEXTS.length]!;
    const amount = i % 5 === 4 ? null : NUMERICS[i % NUMERICS.length]!;
    const [us, at] = times[i % times.length]!;
    cells.push([id, label, amount, us]);
    const n = Number(id);
    values.push([Number.isSafeInteger(n) ? n : BigInt(id), label, amount, at]);
  }
  return { cells, values };
}

function rowPath(values: readonly Row[], encoding: SheetEncoding, batchSize: number): SheetSummary {
  const encoder = new SheetDataEncoder(columns, { maxRowsPerSheet: encoding.maxRowsPerSheet, styles: encoding.styles }, encoding.firstRow ?? 0);
  const pieces = new SheetPieces();
  for (let i = 0; i < values.length; i += batchSize) encoder.encode(values.slice(i, i + batchSize), pieces);
  return sheetSummary(pieces.take());
}

function transcoded(cells: readonly Cell[][], encoding: SheetEncoding, batchSize: number, cut: (at: number) => number): SheetSummary {
  const bytes = inPieces(new PgBinarySheetTranscoder(columns, kinds, encoding, batchSize), binaryCopy(cells), cut);
  const parser = new SheetDataParser();
  const pieces = parser.push(bytes);
  expect(parser.incomplete).toBe(false);
  return sheetSummary(pieces);
}

const SHEET: SheetEncoding = { format: 'xlsx-sheet', maxRowsPerSheet: 1_048_576, styles: SHEET_STYLES, firstRow: 0 };

describe('PostgreSQL binary COPY to XLSX sheet rows (pure)', () => {
  it('writes the row path’s XML, widths and warnings for awkward values', () => {
    const { cells, values } = awkwardRows(200);
    const expected = rowPath(values, SHEET, 50);
    expect(expected.issues.length).toBeGreaterThan(0);
    expect(transcoded(cells, SHEET, 50, () => 1 << 20)).toEqual(expected);
  });

  it('holds the rows until the first batch has sized the columns, whichever way the chunks split them', () => {
    const { cells, values } = awkwardRows(60);
    const expected = rowPath(values, SHEET, 25);
    const input = binaryCopy(cells);
    for (const cut of [1, 7, 100, 4096]) expect(transcoded(cells, SHEET, 25, () => cut), `pieces of ${cut}`).toEqual(expected);
    for (let first = 1; first < input.length; first += 997) expect(transcoded(cells, SHEET, 25, (at) => (at === 0 ? first : input.length))).toEqual(expected);
  });

  it('sizes the columns from the rows it has when the export is shorter than a batch', () => {
    const { cells, values } = awkwardRows(9);
    expect(transcoded(cells, SHEET, 1000, () => 50)).toEqual(rowPath(values, SHEET, 1000));
  });

  it('starts new sheets where the row path does, after a part’s first rows too', () => {
    const { cells, values } = awkwardRows(23);
    for (const encoding of [{ ...SHEET, maxRowsPerSheet: 4 }, { ...SHEET, maxRowsPerSheet: 4, firstRow: 6 }, { ...SHEET, maxRowsPerSheet: 5, firstRow: 5 }]) {
      const expected = rowPath(values, encoding, 5);
      expect(expected.xml.length).toBeGreaterThan(5);
      expect(transcoded(cells, encoding, 5, () => 333), JSON.stringify(encoding)).toEqual(expected);
    }
  });

  it('writes nothing for no rows, and counts the rows it wrote', () => {
    expect(inPieces(new PgBinarySheetTranscoder(columns, kinds, SHEET, 10), binaryCopy([]), () => 3).length).toBe(0);
    const { cells } = awkwardRows(30);
    const transcoder = new PgBinarySheetTranscoder(columns, kinds, SHEET, 10);
    inPieces(transcoder, binaryCopy(cells), () => 500);
    expect(transcoder.rows).toBe(30);
  });

  it('fails on a timestamp that is not 8 bytes and on rows that stop in the middle', () => {
    const bad: Value[] = ['1', 'x', null, 'not a timestamp'];
    expect(() => inPieces(new PgBinarySheetTranscoder(columns, kinds, SHEET, 10), binaryCopy([bad as Cell[]]), () => 100)).toThrow(/a timestamp of 15 bytes/);
    const { cells } = awkwardRows(5);
    const input = binaryCopy(cells);
    const cutShort = new PgBinarySheetTranscoder(columns, kinds, SHEET, 10);
    cutShort.transcode(input.subarray(0, input.length - 9));
    expect(() => cutShort.finish()).toThrow(/ended in the middle/);
  });
});
