import type { Columns, Row, SheetEncoding, Value } from '../core/types.ts';
import type { ByteOutput } from './byte-output.ts';
import { MAX_CELL_TEXT, msToExcelSerial, toCellValue } from './xlsx-cells.ts';
import { type SheetCellIssue, type SheetRecord, issueOf, recordText } from './xlsx-sheet-data.ts';
import { cellXml, columnLetters, isAltered } from './xlsx-sheet-xml.ts';
import { columnWidths, positionAfter } from './xlsx-sheets.ts';

const SPACE = 0x20;
const MINUS = 0x2d;
const UNDERSCORE = 0x5f;
/** Digits a number may have and still be exact in a double whatever they are (2^53 has 16). */
const ALWAYS_SAFE_DIGITS = 15;
/** The most a cell adds around its value: `<c r="XFD1048576" s="nn" t="inlineStr"><is><t>` and the closing tags. */
const CELL_OVERHEAD = 96;

/** Per byte: 1 when a text holding it takes the slow path (controls, & < >, U+FFFE/U+FFFF's lead byte), 2 for `_` (only `_xHHHH_` needs escaping). */
const SPECIAL = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) SPECIAL[b] = 1;
for (const b of [0x26, 0x3c, 0x3e, 0xef]) SPECIAL[b] = 1;
SPECIAL[UNDERSCORE] = 2;

const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

const ascii = (text: string) => Buffer.from(text, 'latin1');
const ROW_OPEN = ascii('<row r="');
const TAG_END = ascii('">');
const ROW_END = ascii('</row>');
const TEXT_OPEN = ascii('" t="inlineStr"><is><t>');
const TEXT_CLOSE = ascii('</t></is></c>');
const NUMBER_OPEN = ascii('"><v>');
const VALUE_CLOSE = ascii('</v></c>');

/** Copies a few constant bytes: a loop beats Buffer#copy's native call below a hundred or so. */
function put(out: Buffer, at: number, bytes: Uint8Array): number {
  for (let k = 0; k < bytes.length; k++) out[at++] = bytes[k]!;
  return at;
}

/**
 * Writes a sheet's rows as SheetDataEncoder does (src/format/xlsx-sheet-data.ts: the row XML,
 * sheet switches, altered cells, and the column widths from the first batch, the rows held until
 * those are known), for transcoders that read rows as bytes (pg-binary-sheet.ts: PostgreSQL's
 * binary COPY; json-sheet.ts: SQLite's JSON pages). They write plain text, digits and dates
 * byte by byte through it; any other value goes through the row path's own cell functions
 * (`value`). A row is `beginRow`, a call per non-NULL cell (`sample` for each value while the
 * widths are sampled), `endRow`; `emit` and `finish` give the bytes, in order.
 */
export class SheetRowWriter {
  readonly #out: ByteOutput;
  readonly #columns: Columns;
  readonly #encoding: SheetEncoding;
  /** `<c r="` and each column's letters. */
  readonly #cellStarts: readonly Buffer[];
  readonly #dateOpen: Buffer;
  readonly #perSheet: number;
  #sheet: number;
  #announced = -1;
  /** Data rows in the current sheet. */
  #sheetRows: number;
  /** Rows of the first batch, as the row path's values, until the column widths are known; undefined once they are (or when another part sizes them). */
  #sample: Row[] | undefined;
  readonly #sampleRows: number;
  /** The current row's values while it is sampled. */
  #sampleRow: Value[] | undefined;
  /** Bytes held until the widths record, which must come first, can be written. */
  readonly #held: Buffer[] = [];
  #issues: SheetCellIssue[] | undefined;
  /** Digits of the current row number, written into every cell reference. */
  readonly #rowDigits = Buffer.alloc(8);
  #rowDigitCount = 0;
  #rowNumber = 0;

  /** `sampleRows`: the first batch's size, which sizes the columns; undefined when the widths are written elsewhere (a later part). */
  constructor(out: ByteOutput, columns: Columns, encoding: SheetEncoding, sampleRows: number | undefined) {
    this.#out = out;
    this.#columns = columns;
    this.#encoding = encoding;
    this.#cellStarts = columns.map((_, i) => ascii(`<c r="${columnLetters(i)}`));
    this.#dateOpen = ascii(`" s="${encoding.styles.date}"><v>`);
    this.#perSheet = encoding.maxRowsPerSheet - 1;
    const position = positionAfter(encoding.firstRow ?? 0, encoding.maxRowsPerSheet);
    this.#sheet = position.sheet;
    this.#sheetRows = position.rows;
    this.#sampleRows = Math.max(1, sampleRows ?? 1);
    this.#sample = sampleRows === undefined ? undefined : [];
  }

  /** Opens a row at `at` (after a sheet switch when the sheet is full); returns where its cells go. */
  beginRow(at: number): number {
    if (this.#sheetRows === this.#perSheet) {
      this.#sheet++;
      this.#sheetRows = 0;
    }
    if (this.#sheet !== this.#announced) {
      this.#announced = this.#sheet;
      at = this.#text(at, recordText({ sheet: this.#sheet }));
    }
    this.#sheetRows++;
    this.#setRowNumber(this.#sheetRows + 1);
    this.#sampleRow = this.#sample !== undefined && this.#sample.length < this.#sampleRows ? [] : undefined;
    const out = this.#out.room(at, at + 32);
    at = put(out, at, ROW_OPEN);
    at = put(out, at, this.#rowDigits.subarray(0, this.#rowDigitCount));
    return put(out, at, TAG_END);
  }

  /** Closes the row, with the record of its altered cells if any; returns the end. */
  endRow(at: number): number {
    at = put(this.#out.room(at, at + ROW_END.length), at, ROW_END);
    if (this.#issues) at = this.#text(at, recordText({ issues: this.#issues, sheet: this.#sheet }));
    this.#issues = undefined;
    if (this.#sampleRow) this.#sample!.push(this.#sampleRow);
    return at;
  }

  /** Whether the current row's values are wanted for the column widths (`sample`). */
  get sampling(): boolean {
    return this.#sampleRow !== undefined;
  }

  /** A value of the current row, as the row path reads it, for the column widths (NULLs too, in column order). */
  sample(value: Value): void {
    this.#sampleRow?.push(value);
  }

  /** Plain text (isPlainText) as an inline string. */
  inline(at: number, col: number, data: Uint8Array, p: number, end: number): number {
    const out = this.#out.room(at, at + CELL_OVERHEAD + (end - p));
    at = this.#open(out, at, col, TEXT_OPEN);
    for (let j = p; j < end; j++) out[at++] = data[j]!;
    return put(out, at, TEXT_CLOSE);
  }

  /** An integer's digits: a number cell when a double holds it exactly, else its digits as text (as a BigInt is written). */
  integer(at: number, col: number, data: Uint8Array, p: number, end: number): number {
    const digits = end - p - (data[p] === MINUS ? 1 : 0);
    if (digits > ALWAYS_SAFE_DIGITS && !Number.isSafeInteger(Number(Buffer.from(data.buffer, data.byteOffset + p, end - p).toString('latin1')))) return this.inline(at, col, data, p, end);
    const out = this.#out.room(at, at + CELL_OVERHEAD + (end - p));
    at = this.#open(out, at, col, NUMBER_OPEN);
    for (let j = p; j < end; j++) out[at++] = data[j]!;
    return put(out, at, VALUE_CLOSE);
  }

  /** A date-time cell for Unix milliseconds in Excel's range; -1 (nothing written) outside it, where the caller writes the row path's text. */
  date(at: number, col: number, ms: number): number {
    const serial = msToExcelSerial(ms);
    if (serial === undefined) return -1;
    const out = this.#out.room(at, at + CELL_OVERHEAD);
    at = this.#open(out, at, col, this.#dateOpen);
    const digits = String(serial);
    for (let k = 0; k < digits.length; k++) out[at++] = digits.charCodeAt(k);
    return put(out, at, VALUE_CLOSE);
  }

  /** Any value, as the row path writes it (toCellValue, cellXml), its alteration noted for the warnings. */
  value(at: number, col: number, value: Value): number {
    const column = this.#columns[col]!;
    const cell = toCellValue(column.type, value);
    if (cell === null) return at;
    if (isAltered(cell)) (this.#issues ??= []).push(issueOf({ row: this.#rowNumber, column: column.name, cell }));
    return this.#text(at, cellXml(columnLetters(col) + this.#rowNumber, cell, this.#encoding.styles));
  }

  /**
   * The first `length` bytes of the output: held (and nothing returned) until the widths are
   * known. `copy`: a Buffer of its own, else a view that the next row overwrites.
   */
  emit(length: number, copy = true): Buffer {
    const written = this.#out.buffer.subarray(0, length);
    const sample = this.#sample;
    if (sample === undefined) return copy ? Buffer.from(written) : written;
    if (sample.length < this.#sampleRows) {
      if (length > 0) this.#held.push(Buffer.from(written));
      return Buffer.alloc(0);
    }
    return Buffer.concat([this.#widths(), ...this.#held.splice(0), written]);
  }

  /** What is still held at the end: a short export's rows, after their widths. */
  finish(): Buffer {
    if (this.#sample === undefined || this.#sample.length === 0) return Buffer.alloc(0);
    return Buffer.concat([this.#widths(), ...this.#held.splice(0)]);
  }

  #widths(): Buffer {
    const record: SheetRecord = { widths: columnWidths(this.#columns, this.#sample ?? []) };
    this.#sample = undefined;
    return Buffer.from(recordText(record), 'utf8');
  }

  /** `<c r="REF` + `open`. */
  #open(out: Buffer, at: number, col: number, open: Buffer): number {
    at = put(out, at, this.#cellStarts[col]!);
    const digits = this.#rowDigits;
    for (let d = 0; d < this.#rowDigitCount; d++) out[at++] = digits[d]!;
    return put(out, at, open);
  }

  #setRowNumber(number: number): void {
    this.#rowNumber = number;
    const digits = this.#rowDigits;
    let count = 0;
    for (let n = number; n > 0; n = (n / 10) | 0) digits[count++] = 0x30 + (n % 10);
    digits.subarray(0, count).reverse();
    this.#rowDigitCount = count;
  }

  /** Text (XML or a record) at `at`; returns its end. */
  #text(at: number, text: string): number {
    const out = this.#out.room(at, at + 3 * text.length);
    return at + out.write(text, at);
  }
}

/**
 * Whether UTF-8 text goes into a cell as it is, as writeRowsXml's inlineText writes it: within
 * the cell limit, nothing to strip or escape, nothing that asks for xml:space="preserve" (tab,
 * LF, CR, or whitespace at either end). A non-ASCII first or last character might be Unicode
 * whitespace: those take the slow path, which decides.
 */
export function isPlainText(data: Uint8Array, p: number, end: number): boolean {
  if (end === p) return true;
  if (end - p > MAX_CELL_TEXT) return false;
  const first = data[p]!;
  const last = data[end - 1]!;
  if (first === SPACE || last === SPACE || first >= 0x80 || last >= 0x80) return false;
  let special = 0;
  for (let j = p; j < end; j++) special |= SPECIAL[data[j]!]!;
  if (special === 0) return true;
  if ((special & 1) !== 0) return false;
  return !hasEscapedCharacter(data, p, end);
}

/** Whether the text holds `_xHHHH_`, which Excel reads as an escaped character (textElement escapes its `_`). */
function hasEscapedCharacter(data: Uint8Array, p: number, end: number): boolean {
  for (let j = data.indexOf(UNDERSCORE, p); j !== -1 && j + 6 < end; j = data.indexOf(UNDERSCORE, j + 1)) {
    if (data[j + 1] === 0x78 && HEX[data[j + 2]!] && HEX[data[j + 3]!] && HEX[data[j + 4]!] && HEX[data[j + 5]!] && data[j + 6] === UNDERSCORE) return true;
  }
  return false;
}
