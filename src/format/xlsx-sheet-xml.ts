import type { Batch, Columns } from '../core/types.ts';
import { type CellValue, type TextCell, isPlainCellText, toCellValue } from './xlsx-cells.ts';

/** Style ids (`s="n"`) registered in the workbook's styles part. */
export interface SheetStyles {
  readonly header: number;
  readonly date: number;
}

/**
 * The ids the sink's workbook registers its two styles under (it checks): a worker thread
 * encodes rows before, and without, the workbook.
 */
export const SHEET_STYLES: SheetStyles = { header: 1, date: 2 };

/** A cell whose text was altered to fit in a worksheet, for the run's warnings. */
export interface CellIssue {
  /** 1-based row number within its sheet. */
  readonly row: number;
  readonly column: string;
  readonly cell: TextCell;
}

export interface RowsXml {
  /** UTF-8 XML of the rows. */
  readonly xml: Buffer;
  /** Cells that were cut or lost characters; usually empty. */
  readonly issues: readonly CellIssue[];
}

/** Column letters: 0 → A, 25 → Z, 26 → AA. */
export function columnLetters(index: number): string {
  let letters = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  return letters;
}

/**
 * Escapes text for a `<t>` element. Besides `& < >`: CR is a character reference, because XML
 * parsers turn a literal CR into LF; and Excel reads `_xHHHH_` in cell text as an escaped
 * character (ECMA-376 ST_Xstring), so a literal one gets its underscore escaped as `_x005F_`.
 */
const SPECIAL = /[&<>\r]|_(?=x[0-9A-Fa-f]{4}_)/;
const SPECIAL_ALL = new RegExp(SPECIAL.source, 'g');
const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;', _: '_x005F_' };
/** Excel drops leading and trailing whitespace (and can fold line breaks) unless told to preserve it. */
const NEEDS_PRESERVE = /^\s|\s$|[\t\n\r]/;

export function textElement(text: string): string {
  const open = NEEDS_PRESERVE.test(text) ? '<t xml:space="preserve">' : '<t>';
  return open + (SPECIAL.test(text) ? text.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : text) + '</t>';
}

export function inlineText(ref: string, text: string, style?: number): string {
  return `<c r="${ref}"${style === undefined ? '' : ` s="${style}"`} t="inlineStr"><is>${textElement(text)}</is></c>`;
}

/** The header: column names as bold text. */
export function headerRowXml(columns: Columns, styles: SheetStyles): string {
  let xml = '<row r="1">';
  columns.forEach((column, i) => (xml += inlineText(`${columnLetters(i)}1`, column.name, styles.header)));
  return `${xml}</row>`;
}

/** Where rows' XML goes, a row at a time. */
export interface TextSink {
  append(text: string): void;
}

/**
 * UTF-8 bytes appended a row at a time. A batch's XML as one string would be a rope of
 * thousands of pieces that outlives several young-generation collections, so it would be
 * promoted and then collected as old garbage: per-row strings die young, and the bytes live
 * outside the JavaScript heap.
 */
export class Utf8Builder implements TextSink {
  #buffer: Buffer;
  #length = 0;

  constructor(capacity: number) {
    this.#buffer = Buffer.allocUnsafe(capacity);
  }

  append(text: string): void {
    const needed = this.#length + text.length * 3;
    if (needed > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#buffer.length * 2));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    this.#length += this.#buffer.write(text, this.#length);
  }

  get length(): number {
    return this.#length;
  }

  bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}

/** A cell's XML: a number, a date-time serial in the date style, or inline text. */
export function cellXml(ref: string, cell: CellValue, styles: SheetStyles): string {
  if (cell.kind === 'number') return `<c r="${ref}"><v>${cell.value}</v></c>`;
  if (cell.kind === 'date') return `<c r="${ref}" s="${styles.date}"><v>${cell.serial}</v></c>`;
  return inlineText(ref, cell.text);
}

/** Whether a text cell lost characters or was cut (a warning for the run). */
export function isAltered(cell: CellValue): cell is TextCell {
  return cell.kind === 'text' && (cell.stripped || cell.truncatedFrom !== undefined);
}

/** `batch[start, end)` as worksheet rows numbered from `firstRow` (see writeRowsXml). */
export function rowsXml(batch: Batch, start: number, end: number, firstRow: number, columns: Columns, styles: SheetStyles): RowsXml {
  const out = new Utf8Builder((end - start) * 64 * columns.length);
  const issues = writeRowsXml(out, batch, start, end, firstRow, columns, styles);
  return { xml: out.bytes(), issues };
}

/**
 * Appends `batch[start, end)` to `out` as worksheet rows numbered from `firstRow`, and returns
 * the cells it had to alter. Every text value is an inline string (`t="inlineStr"`), never a
 * formula, whatever it starts with; NULL is an absent cell.
 */
export function writeRowsXml(out: TextSink, batch: Batch, start: number, end: number, firstRow: number, columns: Columns, styles: SheetStyles): CellIssue[] {
  const letters = columns.map((_, i) => columnLetters(i));
  const types = columns.map((c) => c.type);
  const width = columns.length;
  const issues: CellIssue[] = [];
  for (let r = start; r < end; r++) {
    const row = batch[r]!;
    const number = firstRow + r - start;
    let xml = `<row r="${number}">`;
    for (let i = 0; i < width; i++) {
      const value = row[i] ?? null;
      if (value === null) continue;
      const ref = letters[i]! + number;
      // The common cases without a CellValue per cell; toCellValue decides all the others.
      if (typeof value === 'string' && types[i] === 'text' && isPlainCellText(value)) {
        xml += inlineText(ref, value);
        continue;
      }
      const cell = toCellValue(types[i]!, value)!;
      if (isAltered(cell)) issues.push({ row: number, column: columns[i]!.name, cell });
      xml += cellXml(ref, cell, styles);
    }
    out.append(`${xml}</row>`);
  }
  return issues;
}
