import { SluiceError } from '../core/errors.ts';
import type { Batch, Columns } from '../core/types.ts';

/** Excel's last row: a sheet holds at most this many rows, its header included. */
export const EXCEL_MAX_ROWS = 1_048_576;
const MAX_SHEET_NAME = 31;
const FORBIDDEN_IN_NAME = /[[\]:*?/\\]/;

/** Throws when Excel would reject the name (or its `(n)` continuations) as a sheet name. */
export function validateSheetBaseName(base: string): void {
  if (base.trim() === '' || FORBIDDEN_IN_NAME.test(base) || base.startsWith("'") || base.endsWith("'")) {
    throw new SluiceError('INVALID_DEFINITION', `"${base}" cannot name an Excel sheet: it must be non-empty, must not contain [ ] : * ? / \\ and must not start or end with '.`);
  }
}

/** `Tickets`, `Tickets (2)`, `Tickets (3)`, ... (index 0-based), cut to Excel's 31 characters. */
export function sheetName(base: string, index: number): string {
  if (index === 0) return base.slice(0, MAX_SHEET_NAME);
  const suffix = ` (${index + 1})`;
  return base.slice(0, MAX_SHEET_NAME - suffix.length) + suffix;
}

/** Where the next row goes: the current sheet (0-based) and the data rows it already holds. */
export interface SheetPosition {
  readonly sheet: number;
  readonly rows: number;
}

/** A run of a batch's rows that lands in one sheet. */
export interface SheetSegment {
  readonly sheet: number;
  /** The segment is `batch[start, end)`. */
  readonly start: number;
  readonly end: number;
  /** The sheet row number of `batch[start]` (the header is row 1). */
  readonly firstRow: number;
}

export interface SheetPlan {
  readonly segments: readonly SheetSegment[];
  readonly next: SheetPosition;
}

/** Throws unless `maxRows` (header included) is a sheet size Excel can hold. */
export function validateMaxRows(maxRows: number): void {
  if (!Number.isInteger(maxRows) || maxRows < 2 || maxRows > EXCEL_MAX_ROWS) {
    throw new SluiceError('INVALID_DEFINITION', `A sheet holds 2 to ${EXCEL_MAX_ROWS} rows (header included), not ${maxRows}.`);
  }
}

/**
 * Splits `count` rows across sheets of `maxRows` rows each, header included: a sheet is full at
 * `maxRows - 1` data rows, and the next row starts a new sheet. A full sheet stays the current
 * one until a row needs the next, so an export that exactly fills a sheet has no empty sheet after it.
 */
export function planRows(position: SheetPosition, count: number, maxRows: number): SheetPlan {
  validateMaxRows(maxRows);
  const perSheet = maxRows - 1;
  const segments: SheetSegment[] = [];
  let { sheet, rows } = position;
  let start = 0;
  while (start < count) {
    if (rows === perSheet) {
      sheet++;
      rows = 0;
    }
    const take = Math.min(perSheet - rows, count - start);
    segments.push({ sheet, start, end: start + take, firstRow: rows + 2 });
    rows += take;
    start += take;
  }
  return { segments, next: { sheet, rows } };
}

/** Where the row after the first `rows` goes: planRows's `next` for them, without a segment per sheet. */
export function positionAfter(rows: number, maxRows: number): SheetPosition {
  validateMaxRows(maxRows);
  if (rows === 0) return { sheet: 0, rows: 0 };
  const perSheet = maxRows - 1;
  const sheet = Math.floor((rows - 1) / perSheet);
  return { sheet, rows: rows - sheet * perSheet };
}

const MIN_WIDTH = 8;
const MAX_WIDTH = 60;
/** `yyyy-mm-dd hh:mm:ss.000` */
const DATE_WIDTH = 23;

/**
 * Column widths in characters: wide enough for the header and for the values of a sample (the
 * first batch), within bounds, so the sheet opens readable without a full pass over the data.
 */
export function columnWidths(columns: Columns, sample: Batch): number[] {
  return columns.map((column, i) => {
    let widest = column.name.length;
    if (column.type === 'timestamp') widest = Math.max(widest, DATE_WIDTH);
    else for (const row of sample) widest = Math.max(widest, longestLine(row[i]));
    return Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, widest + 2));
  });
}

function longestLine(value: unknown): number {
  if (value === null || value === undefined) return 0;
  let longest = 0;
  for (const line of String(value).split('\n')) longest = Math.max(longest, line.length);
  return longest;
}
