import { SluiceError } from '../core/errors.ts';
import type { Columns, SheetEncoding } from '../core/types.ts';
import { PgBinaryCopyTranscoder, malformedCopy } from './pg-binary-copy.ts';
import { isInfinite, safeMillis, writeTimestamp } from './pg-timestamp.ts';
import { SheetRowWriter, isPlainText } from './sheet-row-writer.ts';

/**
 * How a column arrives in PostgreSQL's binary COPY for a sheet (src/db/postgres-binary-copy.ts
 * chooses): `text` a string's UTF-8 bytes; `int` an int2/int4/int8 as its digits (`::text`),
 * a number cell when a double holds it; `numeric` a numeric's digits, a text cell (as the row
 * path's string is); `timestamp` the 8-byte microseconds of the UTC wall time.
 */
export type PgSheetKind = 'text' | 'int' | 'numeric' | 'timestamp';

/** 2000-01-01, where PostgreSQL counts timestamps from, in Unix milliseconds. */
const EPOCH_2000_MS = 946_684_800_000;

/**
 * An XLSX sheet's rows from PostgreSQL's binary COPY: the bytes SheetDataEncoder writes for the
 * rows the cursor would have read (a test holds the two byte-identical), records included. The
 * row path spends most of its time creating and collecting a JavaScript value per field; here
 * plain text, digits and in-range timestamps go byte by byte (src/format/sheet-row-writer.ts),
 * and only a value that needs escaping or cutting is decoded for the row path's own functions.
 */
export class PgBinarySheetTranscoder extends PgBinaryCopyTranscoder {
  readonly #kinds: readonly PgSheetKind[];
  readonly #rows: SheetRowWriter;
  /** Where a timestamp outside Excel's range is written as text first. */
  readonly #scratch = Buffer.alloc(32);

  constructor(columns: Columns, kinds: readonly PgSheetKind[], encoding: SheetEncoding, sampleRows: number) {
    super();
    if (kinds.length !== columns.length) throw new SluiceError('INTERNAL', `${kinds.length} binary kinds for ${columns.length} columns.`);
    this.#kinds = kinds;
    this.#rows = new SheetRowWriter(this.out, columns, encoding, sampleRows);
  }

  override finish(): Buffer {
    super.finish();
    return this.#rows.finish();
  }

  protected override emit(length: number): Buffer {
    return this.#rows.emit(length);
  }

  protected override writeRows(data: Buffer, i: number, at: number, limit: number): number {
    const n = data.length;
    const width = this.#kinds.length;
    let rows = 0;
    this.consumed = i;
    while (i + 2 <= n && !this.ended && rows < limit) {
      if (this.atTrailer(data, i, width)) break;
      const end = rowEnd(data, i + 2, width);
      if (end < 0) break;
      at = this.#row(data, i + 2, at);
      rows++;
      this.rows++;
      i = end;
      this.consumed = i;
    }
    return at;
  }

  /** Writes the complete row whose fields start at `p`; returns the output's end. */
  #row(data: Buffer, p: number, at: number): number {
    const rows = this.#rows;
    at = rows.beginRow(at);
    const sampling = rows.sampling;
    const kinds = this.#kinds;
    for (let col = 0; col < kinds.length; col++) {
      const length = data.readInt32BE(p);
      p += 4;
      if (length === -1) {
        if (sampling) rows.sample(null);
        continue;
      }
      const end = p + length;
      const kind = kinds[col]!;
      if (kind === 'text') {
        if (isPlainText(data, p, end)) at = rows.inline(at, col, data, p, end);
        else at = rows.value(at, col, data.toString('utf8', p, end));
        if (sampling) rows.sample(data.toString('utf8', p, end));
      } else if (kind === 'timestamp') {
        if (length !== 8) throw malformedCopy(`a timestamp of ${length} bytes`);
        at = this.#timestamp(at, col, data.readInt32BE(p), data.readUInt32BE(p + 4));
        if (sampling) rows.sample(null); // a timestamp column's width is fixed
      } else {
        at = kind === 'int' ? rows.integer(at, col, data, p, end) : rows.inline(at, col, data, p, end);
        if (sampling) rows.sample(data.toString('latin1', p, end));
      }
      p = end;
    }
    return rows.endRow(at);
  }

  /**
   * A timestamp as the row path's to_char text becomes: a date-time serial in Excel's range,
   * else that text; ±infinity (NULL there) no cell. Outside the range the text itself decides,
   * through the row path's own function: to_char writes a BC year as its number, which that
   * text then reads as the same year AD.
   */
  #timestamp(at: number, col: number, hi: number, lo: number): number {
    if (isInfinite(hi, lo)) return at;
    const ms = safeMillis(hi, lo);
    const written = ms === undefined ? -1 : this.#rows.date(at, col, ms + EPOCH_2000_MS);
    if (written >= 0) return written;
    return this.#rows.value(at, col, this.#scratch.toString('latin1', 0, writeTimestamp(this.#scratch, 0, hi, lo)));
  }
}

/** Where the row whose fields start at `p` ends, or -1 when `data` does not hold all of it. */
function rowEnd(data: Buffer, p: number, width: number): number {
  const n = data.length;
  for (let col = 0; col < width; col++) {
    if (p + 4 > n) return -1;
    const length = data.readInt32BE(p);
    p += 4;
    if (length === -1) continue;
    if (length < 0) throw malformedCopy(`a field of ${length} bytes`);
    p += length;
    if (p > n) return -1;
  }
  return p;
}
