import { describe, expect, it } from 'vitest';
import type { Columns, Row } from '../../src/core/types.ts';
import { type SheetPiece, SheetDataEncoder, SheetDataParser, SheetPieces, recordText } from '../../src/format/xlsx-sheet-data.ts';
import { Utf8Builder } from '../../src/format/xlsx-sheet-xml.ts';

const LAYOUT = { maxRowsPerSheet: 5, styles: { header: 1, date: 2 } };
const COLUMNS: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'note', type: 'text' },
  { name: 'at', type: 'timestamp' },
];

function rows(from: number, count: number): Row[] {
  return Array.from({ length: count }, (_, i) => [from + i, (from + i) % 3 === 0 ? `bell\u0007 ${from + i}` : `note ${from + i}`, '2026-01-01T00:00:07.000Z']);
}

/** Everything an encoder writes, as one byte stream (what a worker thread sends). */
function encodedBytes(encoder: SheetDataEncoder, batches: Row[][]): Buffer {
  const out = new Utf8Builder(1024);
  const stream = { append: (text: string) => out.append(text), record: (record: Parameters<typeof recordText>[0]) => out.append(recordText(record)) };
  for (const batch of batches) encoder.encode(batch, stream);
  return Buffer.from(out.bytes());
}

/** Pieces with neighbouring XML joined: how they are cut does not matter to the workbook. */
function normalized(pieces: readonly SheetPiece[]): unknown[] {
  const out: unknown[] = [];
  for (const piece of pieces) {
    const last = out.at(-1) as { xml?: string } | undefined;
    if ('xml' in piece && last?.xml !== undefined) last.xml += piece.xml.toString();
    else out.push('xml' in piece ? { xml: piece.xml.toString() } : piece);
  }
  return out;
}

describe('SheetDataEncoder', () => {
  it('numbers and splits the rows of parts that start after the rows before them as one encoder over all of them', () => {
    const whole = new SheetDataPieces();
    const all = new SheetDataEncoder(COLUMNS, LAYOUT);
    all.encode(rows(1, 3), whole.out);
    all.encode(rows(4, 7), whole.out);
    all.encode(rows(11, 2), whole.out);
    // Parts of 4, 5 and 3 rows: the second starts after a full sheet, and crosses into the next; the third starts mid-sheet.
    const parts = new SheetDataPieces();
    new SheetDataEncoder(COLUMNS, LAYOUT, 0).encode(rows(1, 4), parts.out);
    new SheetDataEncoder(COLUMNS, LAYOUT, 4).encode(rows(5, 5), parts.out);
    new SheetDataEncoder(COLUMNS, LAYOUT, 9).encode(rows(10, 3), parts.out);
    const sheetsOf = (pieces: unknown[]) => pieces.filter((p) => typeof p === 'object' && p !== null && 'sheet' in p && !('issues' in p));
    const xmlOf = (pieces: unknown[]) => pieces.flatMap((p) => ('xml' in (p as object) ? [(p as { xml: string }).xml] : [])).join('');
    expect(xmlOf(parts.pieces())).toBe(xmlOf(whole.pieces()));
    expect(xmlOf(whole.pieces())).toContain('<row r="5"><c r="A5"><v>4</v>');
    expect(xmlOf(whole.pieces())).toContain('<row r="2"><c r="A2"><v>5</v>');
    // Each part names its sheet as it starts; the writer opens only the ones it is not in.
    expect(sheetsOf(whole.pieces())).toEqual([{ sheet: 0 }, { sheet: 1 }, { sheet: 2 }]);
    expect(sheetsOf(parts.pieces())).toEqual([{ sheet: 0 }, { sheet: 1 }, { sheet: 2 }, { sheet: 2 }]);
  });

  it('sizes the columns by its first batch only, and reports altered cells with their sheet and row', () => {
    const out = new SheetDataPieces();
    const encoder = new SheetDataEncoder(COLUMNS, LAYOUT);
    encoder.encode([[1, 'x'.repeat(40), null]], out.out);
    encoder.encode(rows(2, 6), out.out);
    const pieces = out.pieces();
    expect(pieces.filter((p) => 'widths' in (p as object))).toEqual([{ widths: [8, 42, 25] }]);
    const issues = pieces.filter((p) => 'issues' in (p as object)) as Array<{ issues: Array<{ row: number }>; sheet: number }>;
    expect(issues.map((p) => [p.sheet, p.issues.map((i) => i.row)])).toEqual([
      [0, [4]],
      [1, [3]],
    ]);
    expect(issues[0]!.issues[0]).toEqual({ row: 4, column: 'note', stripped: true });
  });
});

/** A SheetPieces with its output and its normalized pieces. */
class SheetDataPieces {
  readonly out = new SheetPieces();
  readonly #taken: SheetPiece[] = [];

  pieces(): unknown[] {
    this.#taken.push(...this.out.take());
    return normalized(this.#taken);
  }
}

describe('SheetDataParser', () => {
  it('reads back what the encoder wrote, however the bytes are cut into chunks', () => {
    const direct = new SheetDataPieces();
    const encoder = new SheetDataEncoder(COLUMNS, LAYOUT);
    const batches = [rows(1, 3), rows(4, 9)];
    for (const batch of batches) encoder.encode(batch, direct.out);
    const bytes = encodedBytes(new SheetDataEncoder(COLUMNS, LAYOUT), batches);
    expect(bytes.includes(0)).toBe(true);
    for (const size of [1, 2, 7, 64, bytes.length]) {
      const parser = new SheetDataParser();
      const pieces: SheetPiece[] = [];
      for (let at = 0; at < bytes.length; at += size) pieces.push(...parser.push(bytes.subarray(at, at + size)));
      expect(parser.incomplete).toBe(false);
      expect(normalized(pieces), `chunks of ${size}`).toEqual(direct.pieces());
    }
  });

  it('knows when the stream stopped inside a record', () => {
    const parser = new SheetDataParser();
    parser.push(Buffer.from('<row r="2"></row>\0{"she'));
    expect(parser.incomplete).toBe(true);
  });
});
