import { SluiceError } from '../core/errors.ts';
import type { Columns, Row, SheetEncoding, Value } from '../core/types.ts';
import { PgBinaryCopyTranscoder, malformedCopy } from './pg-binary-copy.ts';
import { isInfinite, safeMillis, writeTimestamp } from './pg-timestamp.ts';
import { MAX_CELL_TEXT, msToExcelSerial, toCellValue } from './xlsx-cells.ts';
import { type SheetCellIssue, type SheetRecord, issueOf, recordText } from './xlsx-sheet-data.ts';
import { cellXml, columnLetters, isAltered } from './xlsx-sheet-xml.ts';
import { columnWidths, positionAfter } from './xlsx-sheets.ts';

/**
 * How a column arrives in PostgreSQL's binary COPY for a sheet (src/db/postgres-binary-copy.ts
 * chooses): `text` a string's UTF-8 bytes; `int` an int2/int4/int8 as its digits (`::text`),
 * a number cell when a double holds it; `numeric` a numeric's digits, a text cell (as the row
 * path's string is); `timestamp` the 8-byte microseconds of the UTC wall time.
 */
export type PgSheetKind = 'text' | 'int' | 'numeric' | 'timestamp';

/** 2000-01-01, where PostgreSQL counts timestamps from, in Unix milliseconds. */
const EPOCH_2000_MS = 946_684_800_000;
const MINUS = 0x2d;
const SPACE = 0x20;
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

/** Copies a few constant bytes: a loop beats Buffer#copy's native call below a hundred or so. */
function put(out: Buffer, at: number, bytes: Buffer): number {
  for (let k = 0; k < bytes.length; k++) out[at++] = bytes[k]!;
  return at;
}
const ROW_OPEN = ascii('<row r="');
const TAG_END = ascii('">');
const ROW_END = ascii('</row>');
const TEXT_OPEN = ascii('" t="inlineStr"><is><t>');
const TEXT_CLOSE = ascii('</t></is></c>');
const NUMBER_OPEN = ascii('"><v>');
const VALUE_CLOSE = ascii('</v></c>');

/**
 * An XLSX sheet's rows from PostgreSQL's binary COPY: the bytes SheetDataEncoder writes for the
 * rows the cursor would have read (a test holds the two byte-identical), records included
 * (src/format/xlsx-sheet-data.ts: column widths from the first batch, sheet switches, altered
 * cells). The row path spends most of its time creating and collecting a JavaScript value per
 * field; here plain text, digits and in-range timestamps go byte by byte, and only a value that
 * needs escaping or cutting is decoded and given to the row path's own cell functions.
 */
export class PgBinarySheetTranscoder extends PgBinaryCopyTranscoder {
  readonly #columns: Columns;
  readonly #kinds: readonly PgSheetKind[];
  readonly #encoding: SheetEncoding;
  /** `<c r="` and each column's letters. */
  readonly #cellStarts: readonly Buffer[];
  readonly #dateOpen: Buffer;
  readonly #perSheet: number;
  /** The sheet of the first row, which the prefix announces. */
  readonly #firstSheet: number;
  #sheet: number;
  /** Data rows in the current sheet. */
  #sheetRows: number;
  /** Rows of the first batch, as the row path's values, until the column widths are known. */
  #sample: Row[] | undefined = [];
  readonly #sampleRows: number;
  /** Bytes held until the widths record, which must come first, can be written. */
  readonly #held: Buffer[] = [];
  /** Digits of the current row number, written into every cell reference. */
  readonly #rowDigits = Buffer.alloc(8);
  /** Where a timestamp outside Excel's range is written as text first. */
  readonly #scratch = Buffer.alloc(32);
  #rowDigitCount = 0;

  constructor(columns: Columns, kinds: readonly PgSheetKind[], encoding: SheetEncoding, sampleRows: number) {
    super();
    if (kinds.length !== columns.length) throw new SluiceError('INTERNAL', `${kinds.length} binary kinds for ${columns.length} columns.`);
    this.#columns = columns;
    this.#kinds = kinds;
    this.#encoding = encoding;
    this.#cellStarts = columns.map((_, i) => ascii(`<c r="${columnLetters(i)}`));
    this.#dateOpen = ascii(`" s="${encoding.styles.date}"><v>`);
    this.#perSheet = encoding.maxRowsPerSheet - 1;
    const position = positionAfter(encoding.firstRow ?? 0, encoding.maxRowsPerSheet);
    // A part that starts after a full sheet starts the next one.
    const full = position.rows === this.#perSheet;
    this.#sheet = this.#firstSheet = full ? position.sheet + 1 : position.sheet;
    this.#sheetRows = full ? 0 : position.rows;
    this.#sampleRows = Math.max(1, sampleRows);
  }

  override finish(): Buffer {
    super.finish();
    if (this.#sample === undefined || this.#sample.length === 0) return Buffer.alloc(0);
    return Buffer.concat([this.#prefix(), ...this.#held]);
  }

  protected override emit(length: number): Buffer {
    const bytes = super.emit(length);
    const sample = this.#sample;
    if (sample === undefined) return bytes;
    if (sample.length < this.#sampleRows) {
      if (bytes.length > 0) this.#held.push(bytes);
      return Buffer.alloc(0);
    }
    return Buffer.concat([this.#prefix(), ...this.#held.splice(0), bytes]);
  }

  /** The widths (from the first batch) and the first sheet: what the sheet's writer must know before any row. */
  #prefix(): Buffer {
    const widths = columnWidths(this.#columns, this.#sample ?? []);
    this.#sample = undefined;
    return Buffer.from(recordText({ widths }) + recordText({ sheet: this.#firstSheet }), 'utf8');
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
    if (this.#sheetRows === this.#perSheet) {
      this.#sheet++;
      this.#sheetRows = 0;
      at = this.#record(at, { sheet: this.#sheet });
    }
    this.#sheetRows++;
    const number = this.#sheetRows + 1;
    this.#setRowNumber(number);
    const sample: Value[] | undefined = this.#sample !== undefined && this.#sample.length < this.#sampleRows ? [] : undefined;
    let issues: SheetCellIssue[] | undefined;
    let out = this.out.room(at, at + 32);
    at = put(out, at, ROW_OPEN);
    for (let d = 0; d < this.#rowDigitCount; d++) out[at++] = this.#rowDigits[d]!;
    at = put(out, at, TAG_END);
    const kinds = this.#kinds;
    for (let col = 0; col < kinds.length; col++) {
      const length = data.readInt32BE(p);
      p += 4;
      if (length === -1) {
        sample?.push(null);
        continue;
      }
      const end = p + length;
      out = this.out.room(at, at + CELL_OVERHEAD + 3 * length);
      const kind = kinds[col]!;
      let slow: Value | undefined;
      if (kind === 'text') {
        if (isPlainText(data, p, end)) at = this.#inline(out, at, col, data, p, end);
        else slow = data.toString('utf8', p, end);
        sample?.push(slow ?? data.toString('utf8', p, end));
      } else if (kind === 'timestamp') {
        if (length !== 8) throw malformedCopy(`a timestamp of ${length} bytes`);
        at = this.#timestamp(out, at, col, data.readInt32BE(p), data.readUInt32BE(p + 4));
        out = this.out.buffer;
        sample?.push(null); // a timestamp column's width is fixed
      } else {
        const numeric = kind === 'int' && (length - (data[p] === MINUS ? 1 : 0) <= ALWAYS_SAFE_DIGITS || Number.isSafeInteger(Number(data.toString('latin1', p, end))));
        at = numeric ? this.#number(out, at, col, data, p, end) : this.#inline(out, at, col, data, p, end);
        sample?.push(data.toString('latin1', p, end));
      }
      if (slow !== undefined) {
        const cell = toCellValue(this.#columns[col]!.type, slow)!;
        if (isAltered(cell)) (issues ??= []).push(issueOf({ row: number, column: this.#columns[col]!.name, cell }));
        at = this.#text(at, cellXml(this.#ref(col), cell, this.#encoding.styles));
        out = this.out.buffer;
      }
      p = end;
    }
    out = this.out.room(at, at + ROW_END.length);
    at = put(out, at, ROW_END);
    if (issues) at = this.#record(at, { issues, sheet: this.#sheet });
    if (sample) this.#sample!.push(sample);
    return at;
  }

  /**
   * A timestamp as the row path's to_char text becomes: a date-time serial in Excel's range,
   * else that text; ±infinity (NULL there) no cell. Outside the range the text itself decides,
   * through the row path's own function: to_char writes a BC year as its number, which that
   * text then reads as the same year AD.
   */
  #timestamp(out: Buffer, at: number, col: number, hi: number, lo: number): number {
    if (isInfinite(hi, lo)) return at;
    const ms = safeMillis(hi, lo);
    const serial = ms === undefined ? undefined : msToExcelSerial(ms + EPOCH_2000_MS);
    if (serial === undefined) {
      const text = this.#scratch.toString('latin1', 0, writeTimestamp(this.#scratch, 0, hi, lo));
      return this.#text(at, cellXml(this.#ref(col), toCellValue('timestamp', text)!, this.#encoding.styles));
    }
    at = this.#open(out, at, col, this.#dateOpen);
    const digits = String(serial);
    for (let k = 0; k < digits.length; k++) out[at++] = digits.charCodeAt(k);
    return put(out, at, VALUE_CLOSE);
  }

  /** `<c r="REF` + `open`. */
  #open(out: Buffer, at: number, col: number, open: Buffer): number {
    at = put(out, at, this.#cellStarts[col]!);
    const digits = this.#rowDigits;
    for (let d = 0; d < this.#rowDigitCount; d++) out[at++] = digits[d]!;
    return put(out, at, open);
  }

  #inline(out: Buffer, at: number, col: number, data: Buffer, p: number, end: number): number {
    at = this.#open(out, at, col, TEXT_OPEN);
    for (let j = p; j < end; j++) out[at++] = data[j]!;
    return put(out, at, TEXT_CLOSE);
  }

  #number(out: Buffer, at: number, col: number, data: Buffer, p: number, end: number): number {
    at = this.#open(out, at, col, NUMBER_OPEN);
    for (let j = p; j < end; j++) out[at++] = data[j]!;
    return put(out, at, VALUE_CLOSE);
  }

  #ref(col: number): string {
    return columnLetters(col) + this.#rowDigits.toString('latin1', 0, this.#rowDigitCount);
  }

  #setRowNumber(number: number): void {
    const digits = this.#rowDigits;
    let count = 0;
    for (let n = number; n > 0; n = (n / 10) | 0) digits[count++] = 0x30 + (n % 10);
    digits.subarray(0, count).reverse();
    this.#rowDigitCount = count;
  }

  /** Text (XML or a record) at `at`; returns its end. */
  #text(at: number, text: string): number {
    const out = this.out.room(at, at + 3 * text.length);
    return at + out.write(text, at);
  }

  #record(at: number, record: SheetRecord): number {
    return this.#text(at, recordText(record));
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

/**
 * Whether UTF-8 text goes into a cell as it is, as writeRowsXml's inlineText writes it: within
 * the cell limit, nothing to strip or escape, nothing that asks for xml:space="preserve" (tab,
 * LF, CR, or whitespace at either end). A non-ASCII first or last character might be Unicode
 * whitespace: those take the slow path, which decides.
 */
function isPlainText(data: Buffer, p: number, end: number): boolean {
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
function hasEscapedCharacter(data: Buffer, p: number, end: number): boolean {
  for (let j = data.indexOf(UNDERSCORE, p); j !== -1 && j + 6 < end; j = data.indexOf(UNDERSCORE, j + 1)) {
    if (data[j + 1] === 0x78 && HEX[data[j + 2]!] && HEX[data[j + 3]!] && HEX[data[j + 4]!] && HEX[data[j + 5]!] && data[j + 6] === UNDERSCORE) return true;
  }
  return false;
}
