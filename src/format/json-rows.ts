import type { Columns, TextEncoding, Value } from '../core/types.ts';
import { APOSTROPHE, BACKSLASH, ByteOutput, COMMA, type FieldWriter, NEWLINE, QUOTE, TAB, fieldWriter } from './byte-output.ts';
import { CLOSE, LETTER_N, closingQuote, isRealByte, latin1, malformedPage, utf8 } from './json-page.ts';

/**
 * CSV, TSV and TXT bytes from rows written as JSON arrays, one per line — what SQLite's
 * `json_array()` writes, which a reader can fetch a page at a time as one blob instead of
 * making thirteen JavaScript values per row (src/db/sqlite-json-pages.ts). The result is the
 * bytes encodeCsvBatch / encodeTsvBatch write for the same values: plain strings (no JSON
 * escape), integers and nulls are copied byte by byte; anything else (an escaped string, a
 * real number) is decoded and given to those encoders. The input must be valid UTF-8 (the
 * caller checks: JavaScript strings cannot hold what is not).
 */

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** A byte of the rest of a signed plain or phone number: digit, space, ( ) . - */
function isPhoneByte(b: number): boolean {
  return isDigit(b) || b === 0x20 || b === 0x28 || b === 0x29 || b === 0x2e || b === 0x2d;
}

/**
 * src/format/formula.ts's rule on a string's UTF-8 bytes without escapes (so no tab or CR):
 * `=` or `@` first, or `+`/`-` followed by anything but `\d[\d ().-]*`.
 */
export function formulaBytes(bytes: Uint8Array, start: number, end: number): boolean {
  const first = bytes[start];
  if (first === 0x3d || first === 0x40) return true;
  if ((first !== 0x2b && first !== 0x2d) || end - start < 2) return false;
  if (!isDigit(bytes[start + 1]!)) return true;
  for (let i = start + 2; i < end; i++) if (!isPhoneByte(bytes[i]!)) return true;
  return false;
}

export class JsonRowsTranscoder {
  readonly #csv: boolean;
  readonly #width: number;
  /** Per column: formula-escape its strings (a text column, escapes on). */
  readonly #escape: boolean[];
  /** Per column: how the row encoders write a decoded value. */
  readonly #fields: FieldWriter[];
  readonly #separator: number;
  readonly #out = new ByteOutput();

  constructor(columns: Columns, encoding: TextEncoding) {
    this.#csv = encoding.format === 'csv';
    this.#width = columns.length;
    const text = columns.map((c) => c.type === 'text');
    this.#escape = text.map((isText) => isText && encoding.escapeFormulas);
    this.#fields = text.map((isText) => fieldWriter(encoding, columns.length, isText));
    this.#separator = this.#csv ? COMMA : TAB;
  }

  /**
   * The encoded rows of `page` (JSON arrays separated by LF): a view that the next call reuses.
   * One pass, writing as it reads: plain bytes never grow by more than a third (a string of at
   * least three bytes with its separator gains at most its CSV quotes and a `'`), so the buffer
   * is sized once; only a decoded value checks for room.
   */
  transcode(page: Uint8Array): Uint8Array {
    const n = page.length;
    let out = this.#out.room(0, 2 * n + 64);
    const csv = this.#csv;
    const width = this.#width;
    const separator = this.#separator;
    const escape = this.#escape;
    let at = 0;
    let i = 0;
    while (i < n) {
      i++; // [
      for (let col = 0; col < width; col++) {
        if (col > 0) out[at++] = separator;
        const first = page[i]!;
        if (first === LETTER_N) {
          i += 5; // null and the , or ] after it
          continue;
        }
        if (first !== QUOTE) {
          // A number: an integer is copied; a real is written as JavaScript writes it.
          const from = i;
          const start = at;
          let real = false;
          for (let b = first; b !== COMMA && b !== CLOSE; b = page[++i]!) {
            if (i >= n) throw malformedPage();
            real ||= isRealByte(b);
            out[at++] = b;
          }
          if (real) {
            at = this.#value(Number(latin1(page, from, i)), col, start, 2 * (n - i));
            out = this.#out.buffer;
          }
          i++;
          continue;
        }
        // A string, copied optimistically; an escape sends it to JSON.parse, a comma or a formula moves it along.
        const from = i + 1;
        const start = at;
        let comma = false;
        let b = page[++i]!;
        while (b !== QUOTE && b !== BACKSLASH) {
          if (i >= n) throw malformedPage();
          if (b === COMMA) comma = true;
          out[at++] = b;
          b = page[++i]!;
        }
        if (b === BACKSLASH) {
          i = closingQuote(page, i);
          at = this.#value(JSON.parse(utf8(page, from - 1, i + 1)) as string, col, start, 2 * (n - i));
          out = this.#out.buffer;
        } else if (at === start) {
          if (csv) {
            out[at++] = QUOTE;
            out[at++] = QUOTE;
          }
        } else {
          const apostrophe = escape[col]! && formulaBytes(out, start, at);
          const quoted = csv && comma;
          if (apostrophe || quoted) at = wrap(out, start, at, quoted, apostrophe);
        }
        i += 2; // the closing quote and the , or ] after it
      }
      out[at++] = NEWLINE;
      i++; // the LF between rows
    }
    return out.subarray(0, at);
  }

  /** A value decoded from its JSON, written at `start` by the row encoders' own rules; returns the end. */
  #value(value: Value, col: number, start: number, rest: number): number {
    return this.#out.writeValue(value, start, rest + 64, this.#fields[col]!);
  }
}

/** Moves the field at start..end along for its CSV quotes and formula `'`; returns its new end. */
function wrap(out: Buffer, start: number, end: number, quoted: boolean, apostrophe: boolean): number {
  const shift = (quoted ? 1 : 0) + (apostrophe ? 1 : 0);
  out.copyWithin(start + shift, start, end);
  let at = start;
  if (quoted) out[at++] = QUOTE;
  if (apostrophe) out[at++] = APOSTROPHE;
  end += shift;
  if (quoted) out[end++] = QUOTE;
  return end;
}

