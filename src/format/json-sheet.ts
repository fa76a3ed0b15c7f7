import type { ColumnType, Columns, Row, SheetEncoding } from '../core/types.ts';
import { BACKSLASH, ByteOutput, COMMA, QUOTE } from './byte-output.ts';
import { CLOSE, LETTER_N, closingQuote, isRealByte, latin1, malformedPage, utf8 } from './json-page.ts';
import { SheetRowWriter, isPlainText } from './sheet-row-writer.ts';
import { isoFieldsMs } from './xlsx-cells.ts';

/**
 * An XLSX sheet's rows from rows written as JSON arrays, one per line (SQLite's pages, see
 * src/db/sqlite-json-pages.ts): the bytes SheetDataEncoder writes for the values the row path
 * reads (a test holds the two byte-identical). Plain strings, integers and canonical timestamps
 * go byte by byte (src/format/sheet-row-writer.ts); a string with JSON escapes, a real, or a
 * value a cell must alter is decoded and given to the row path's own cell functions.
 */
export class JsonSheetTranscoder {
  readonly #types: readonly ColumnType[];
  readonly #out = new ByteOutput();
  readonly #rows: SheetRowWriter;

  /** `sampleRows`: the first batch's size, which sizes the columns; undefined when the widths are written elsewhere. */
  constructor(columns: Columns, encoding: SheetEncoding, sampleRows: number | undefined) {
    this.#types = columns.map((c) => c.type);
    this.#rows = new SheetRowWriter(this.#out, columns, encoding, sampleRows);
  }

  /** The sheet rows of `page` (JSON arrays separated by LF), empty while the first rows wait for their widths; a view that the next call overwrites. */
  transcode(page: Uint8Array): Buffer {
    const rows = this.#rows;
    const types = this.#types;
    const n = page.length;
    let at = 0;
    let i = 0;
    while (i < n) {
      i++; // [
      at = rows.beginRow(at);
      const sampling = rows.sampling;
      for (let col = 0; col < types.length; col++) {
        const first = page[i]!;
        if (first === LETTER_N) {
          i += 5; // null and the , or ] after it
          if (sampling) rows.sample(null);
          continue;
        }
        if (first !== QUOTE) {
          const from = i;
          let real = false;
          for (let b = first; b !== COMMA && b !== CLOSE; b = page[++i]!) {
            if (i >= n) throw malformedPage();
            real ||= isRealByte(b);
          }
          if (real) {
            const value = Number(latin1(page, from, i));
            at = rows.value(at, col, value);
            if (sampling) rows.sample(value);
          } else {
            at = types[col] === 'integer' ? rows.integer(at, col, page, from, i) : rows.inline(at, col, page, from, i);
            if (sampling) rows.sample(latin1(page, from, i));
          }
          i++;
          continue;
        }
        const from = i + 1;
        let b = page[++i]!;
        while (b !== QUOTE && b !== BACKSLASH) {
          if (i >= n) throw malformedPage();
          b = page[++i]!;
        }
        if (b === BACKSLASH) {
          i = closingQuote(page, i);
          const value = JSON.parse(utf8(page, from - 1, i + 1)) as string;
          at = rows.value(at, col, value);
          if (sampling) rows.sample(value);
        } else {
          at = this.#string(at, col, page, from, i);
          if (sampling) rows.sample(utf8(page, from, i));
        }
        i += 2; // the closing quote and the , or ] after it
      }
      at = rows.endRow(at);
      i++; // the LF between rows
    }
    return rows.emit(at, false);
  }

  /** Rows the reader could only read as values (text that is not UTF-8), written by the row path's own cell functions. */
  transcodeValues(batch: readonly Row[]): Buffer {
    const rows = this.#rows;
    let at = 0;
    for (const row of batch) {
      at = rows.beginRow(at);
      const sampling = rows.sampling;
      for (let col = 0; col < this.#types.length; col++) {
        const value = row[col] ?? null;
        if (value !== null) at = rows.value(at, col, value);
        if (sampling) rows.sample(value);
      }
      at = rows.endRow(at);
    }
    return rows.emit(at, false);
  }

  /** What is still held at the end: a short export's rows, after their widths. */
  finish(): Buffer {
    return this.#rows.finish();
  }

  /** A string without escapes: a date-time when a timestamp column holds canonical ISO text in Excel's range, else text. */
  #string(at: number, col: number, page: Uint8Array, from: number, end: number): number {
    const rows = this.#rows;
    if (this.#types[col] === 'timestamp') {
      const ms = canonicalIsoBytesMs(page, from, end);
      const written = ms === undefined ? -1 : rows.date(at, col, ms);
      return written >= 0 ? written : rows.value(at, col, utf8(page, from, end));
    }
    return isPlainText(page, from, end) ? rows.inline(at, col, page, from, end) : rows.value(at, col, utf8(page, from, end));
  }
}

/** Two ASCII digits at `at` as a number, or -1. */
function twoDigits(bytes: Uint8Array, at: number): number {
  const tens = bytes[at]! - 0x30;
  const ones = bytes[at + 1]! - 0x30;
  return tens >>> 0 > 9 || ones >>> 0 > 9 ? -1 : tens * 10 + ones;
}

/** canonicalIsoMs (src/format/xlsx-cells.ts) on the text's bytes: the same milliseconds, or undefined for whatever it leaves to Date.parse. */
function canonicalIsoBytesMs(b: Uint8Array, p: number, end: number): number | undefined {
  if (end - p !== 24) return undefined;
  if (b[p + 4] !== 0x2d || b[p + 7] !== 0x2d || b[p + 10] !== 0x54 || b[p + 13] !== 0x3a || b[p + 16] !== 0x3a || b[p + 19] !== 0x2e || b[p + 23] !== 0x5a) return undefined;
  return isoFieldsMs(twoDigits(b, p), twoDigits(b, p + 2), twoDigits(b, p + 5), twoDigits(b, p + 8), twoDigits(b, p + 11), twoDigits(b, p + 14), twoDigits(b, p + 17), twoDigits(b, p + 20), b[p + 22]! - 0x30);
}

