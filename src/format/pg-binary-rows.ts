import { SluiceError } from '../core/errors.ts';
import type { Columns, TextEncoding, Value } from '../core/types.ts';
import { APOSTROPHE, BACKSLASH, COMMA, type FieldWriter, NEWLINE, QUOTE, RETURN, TAB, fieldWriter } from './byte-output.ts';
import { formulaBytes } from './json-rows.ts';
import { batchEncoder } from './text-encoding.ts';
import { writeTimestamp } from './pg-timestamp.ts';
import { PgBinaryCopyTranscoder, malformedCopy } from './pg-binary-copy.ts';

/**
 * How a column arrives in PostgreSQL's binary COPY (src/db/postgres-copy-reader.ts chooses):
 * `text` is a string's UTF-8 bytes, escaped and formula-checked here; `digits` is a number the
 * server wrote as text (`::text`), copied as it is; `timestamp` is the 8-byte microsecond count
 * of a `timestamp`, written as sluice's ISO text.
 */
export type PgBinaryKind = 'text' | 'digits' | 'timestamp';

const DOT = 0x2e;

/** 1 for the bytes of `special`: a table lookup ORed over a field keeps the copy loop free of branches. */
function byteTable(special: readonly number[]): Uint8Array {
  const table = new Uint8Array(256);
  for (const b of special) table[b] = 1;
  return table;
}

/** Bytes that send a CSV field to csvField: it must be quoted. */
const CSV_SPECIAL = byteTable([COMMA, QUOTE, NEWLINE, RETURN]);
/** Bytes that send a TSV field to tsvCell: PostgreSQL's text format escapes them (\t \n \r \\ \b \v \f). */
const TSV_SPECIAL = byteTable([TAB, NEWLINE, RETURN, BACKSLASH, 0x08, 0x0b, 0x0c]);

/** A first byte that may make a text a formula (= @ + - tab CR). */
function formulaStart(b: number): boolean {
  return b === 0x3d || b === 0x40 || b === 0x2b || b === 0x2d || b === TAB || b === RETURN;
}

/**
 * CSV, TSV and TXT bytes from PostgreSQL's binary COPY, the bytes encodeCsvBatch / encodeTsvBatch
 * (and COPY's own CSV and text formats) write for the same rows. The server only sends the
 * columns' values (no escaping, no formula CASE, no to_char, which cost it more than the scan
 * itself); this runs on the export's thread, beside the server's backend. Plain strings and
 * digits are copied byte by byte; a string that needs quotes or escapes is decoded and given to
 * the row encoders.
 */
export class PgBinaryRowsTranscoder extends PgBinaryCopyTranscoder {
  readonly #kinds: readonly PgBinaryKind[];
  readonly #csv: boolean;
  readonly #single: boolean;
  readonly #escape: boolean;
  /** How the row encoders write a string of a text column (only those take the slow path). */
  readonly #field: FieldWriter;
  readonly #separator: number;
  #header: string;

  constructor(columns: Columns, kinds: readonly PgBinaryKind[], encoding: TextEncoding) {
    super();
    if (kinds.length !== columns.length) throw new SluiceError('INTERNAL', `${kinds.length} binary kinds for ${columns.length} columns.`);
    this.#kinds = kinds;
    this.#csv = encoding.format === 'csv';
    this.#single = columns.length === 1;
    this.#escape = encoding.escapeFormulas;
    this.#field = fieldWriter(encoding, columns.length, true);
    this.#separator = this.#csv ? COMMA : TAB;
    this.#header = batchEncoder(encoding, columns).header;
  }

  /** The header row, before the first row; returns where the rows go. */
  protected override begin(): number {
    if (this.#header === '') return 0;
    const at = this.out.room(0, 3 * this.#header.length).write(this.#header, 0);
    this.#header = '';
    return at;
  }

  protected override writeRows(data: Buffer, i: number, at: number, limit: number): number {
    const n = data.length;
    let out = this.out.room(at, at + 3 * (n - i) + 64);
    let rows = 0;
    const kinds = this.#kinds;
    const width = kinds.length;
    const csv = this.#csv;
    const separator = this.#separator;
    const escape = this.#escape;
    const specials = csv ? CSV_SPECIAL : TSV_SPECIAL;
    this.consumed = i;
    while (i + 2 <= n && !this.ended && rows < limit) {
      if (this.atTrailer(data, i, width)) break;
      const rowStart = at;
      let p = i + 2;
      let complete = true;
      for (let col = 0; col < width; col++) {
        if (p + 4 > n) {
          complete = false;
          break;
        }
        const length = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) | 0;
        p += 4;
        if (col > 0) out[at++] = separator;
        if (length === -1) continue; // NULL: an empty field
        const end = p + length;
        if (length < 0 || end > n) {
          complete = false;
          break;
        }
        const kind = kinds[col]!;
        if (kind === 'timestamp') {
          if (length !== 8) throw malformedCopy(`a timestamp of ${length} bytes`);
          at = writeTimestamp(out, at, data.readInt32BE(p), data.readUInt32BE(p + 4));
        } else if (kind === 'digits') {
          for (let j = p; j < end; j++) out[at++] = data[j]!;
        } else if (length === 0) {
          if (csv) {
            out[at++] = QUOTE;
            out[at++] = QUOTE;
          }
        } else {
          const start = at;
          let special = 0;
          for (let j = p; j < end; j++) {
            const b = data[j]!;
            special |= specials[b]!;
            out[at++] = b;
          }
          const first = data[p]!;
          const risky = escape && formulaStart(first);
          if (special !== 0 || (risky && (first === TAB || first === RETURN)) || (this.#single && csv && length === 2 && first === BACKSLASH && data[p + 1] === DOT)) {
            at = this.#value(data.toString('utf8', p, end), start, 3 * (n - end) + 64);
            out = this.out.buffer;
          } else if (risky && formulaBytes(out, start, at)) {
            out.copyWithin(start + 1, start, at);
            out[start] = APOSTROPHE;
            at++;
          }
        }
        p = end;
      }
      if (!complete) {
        at = rowStart;
        break;
      }
      out[at++] = NEWLINE;
      rows++;
      this.rows++;
      i = p;
      this.consumed = i;
    }
    return at;
  }

  /** A string written at `start` by the row encoders' own rules; returns its end. */
  #value(value: Value, start: number, rest: number): number {
    return this.out.writeValue(value, start, rest, this.#field);
  }
}
