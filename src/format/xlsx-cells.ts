import type { ColumnType, Value } from '../core/types.ts';

/** Excel's limit on the characters (UTF-16 code units) a cell can hold; longer text is cut. */
export const MAX_CELL_TEXT = 32_767;

/**
 * Characters XML 1.0 cannot carry even as character references: C0 controls other than tab,
 * LF and CR, U+FFFE/U+FFFF, and unpaired surrogates. Excel refuses (or "repairs") such a file.
 */
const ILLEGAL_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ILLEGAL_XML_ALL = new RegExp(ILLEGAL_XML.source, 'g');

/** Excel's day 1 is 1900-01-01, and it counts a 29 February 1900 that never was: day 61 is 1900-03-01. */
const UNIX_EPOCH_SERIAL = 25_569;
const MS_PER_DAY = 86_400_000;
const FIRST_SAFE_SERIAL = 61;
/** 10000-01-01: Excel shows no later date. */
const END_SERIAL = 2_958_466;

/** What a value becomes in a worksheet: a number, a date-time serial, or text (null: an empty cell). */
export type CellValue =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'date'; readonly serial: number }
  | TextCell;

export interface TextCell {
  readonly kind: 'text';
  readonly text: string;
  /** Characters XML cannot hold were removed. */
  readonly stripped: boolean;
  /** The length before truncation to MAX_CELL_TEXT, when the text was cut. */
  readonly truncatedFrom?: number;
}

/** Whether text goes into a cell unchanged: nothing to strip, within the limit (the common case). */
export function isPlainCellText(text: string): boolean {
  return text.length <= MAX_CELL_TEXT && !ILLEGAL_XML.test(text);
}

/**
 * Text as a cell can hold it: illegal characters removed, then cut to Excel's limit without
 * splitting a surrogate pair (an emoji is dropped whole rather than halved).
 */
export function textCell(raw: string): TextCell {
  let text = raw;
  const stripped = ILLEGAL_XML.test(text);
  if (stripped) text = text.replace(ILLEGAL_XML_ALL, '');
  if (text.length <= MAX_CELL_TEXT) return { kind: 'text', text, stripped };
  let end = MAX_CELL_TEXT;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return { kind: 'text', text: text.slice(0, end), stripped, truncatedFrom: text.length };
}

/**
 * Canonical ISO-8601 UTC text (`2026-01-01T00:00:07.000Z`) as an Excel date-time serial, or
 * undefined when Excel cannot show it as a date (unparseable, before 1900-03-01, after 9999).
 */
export function isoToExcelSerial(iso: string): number | undefined {
  const ms = canonicalIsoMs(iso) ?? Date.parse(iso);
  return Number.isNaN(ms) ? undefined : msToExcelSerial(ms);
}

/** Milliseconds since the Unix epoch as an Excel date-time serial, or undefined outside what Excel shows as a date. */
export function msToExcelSerial(ms: number): number | undefined {
  const serial = ms / MS_PER_DAY + UNIX_EPOCH_SERIAL;
  return serial >= FIRST_SAFE_SERIAL && serial < END_SERIAL ? serial : undefined;
}

/** The two digits at `at` as a number, or -1 when either is not a digit. */
function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 0x30;
  const ones = text.charCodeAt(at + 1) - 0x30;
  return tens >>> 0 > 9 || ones >>> 0 > 9 ? -1 : tens * 10 + ones;
}

/**
 * Milliseconds since the epoch of canonical ISO text (`2026-01-01T00:00:07.000Z`), without
 * Date.parse (a third of an XLSX export's time went there); undefined for anything else, which
 * Date.parse then decides. Days past the 28th go to Date.parse too: it knows which months have
 * them. Plain character tests: a loop over tables of positions took twice as long (3,000,000
 * timestamps: 270 against 145 ms).
 */
export function canonicalIsoMs(iso: string): number | undefined {
  if (iso.length !== 24) return undefined;
  if (iso.charCodeAt(4) !== 0x2d || iso.charCodeAt(7) !== 0x2d || iso.charCodeAt(10) !== 0x54 || iso.charCodeAt(13) !== 0x3a || iso.charCodeAt(16) !== 0x3a || iso.charCodeAt(19) !== 0x2e || iso.charCodeAt(23) !== 0x5a) return undefined;
  return isoFieldsMs(twoDigits(iso, 0), twoDigits(iso, 2), twoDigits(iso, 5), twoDigits(iso, 8), twoDigits(iso, 11), twoDigits(iso, 14), twoDigits(iso, 17), twoDigits(iso, 20), iso.charCodeAt(22) - 0x30);
}

/**
 * The milliseconds of canonical ISO text's fields (two-digit pairs, -1 where a pair is not two
 * digits; the last digit of the milliseconds alone), or undefined for what canonicalIsoMs leaves
 * to Date.parse. Shared by the readers of the text as a string and as bytes (json-sheet.ts).
 */
export function isoFieldsMs(century: number, yearOfCentury: number, month: number, day: number, hours: number, minutes: number, seconds: number, tenths: number, thousandths: number): number | undefined {
  if ((century | yearOfCentury | month | day | hours | minutes | seconds | tenths) < 0 || thousandths >>> 0 > 9) return undefined;
  const year = century * 100 + yearOfCentury;
  // Date.UTC reads years 0-99 as 1900-1999.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > 28 || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  return Date.UTC(year, month - 1, day, hours, minutes, seconds, tenths * 10 + thousandths);
}

/** The inverse, for readers and tests: a serial back to canonical ISO text (millisecond precision). */
export function excelSerialToIso(serial: number): string {
  return new Date(Math.round((serial - UNIX_EPOCH_SERIAL) * MS_PER_DAY)).toISOString();
}

/**
 * The cell for a value of a column. Integers become numbers unless a double cannot hold them
 * exactly (then their digits, as text); timestamps become date-times when Excel can show them;
 * everything else is text, never a formula, so leading zeros, `+` and `=` survive as typed.
 */
export function toCellValue(type: ColumnType, value: Value): CellValue | null {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'integer':
      if (typeof value === 'number' && Number.isFinite(value)) return { kind: 'number', value };
      if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) return { kind: 'number', value: Number(value) };
      return textCell(String(value));
    case 'timestamp': {
      const serial = typeof value === 'string' ? isoToExcelSerial(value) : undefined;
      return serial === undefined ? textCell(String(value)) : { kind: 'date', serial };
    }
    default:
      return textCell(String(value));
  }
}
