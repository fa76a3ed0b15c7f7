import type { Batch, Columns, Value } from '../core/types.ts';
import { escapeFormula } from './formula.ts';

export interface CsvOptions {
  /** Prefix formula-looking text cells with `'` (on by default). */
  readonly escapeFormulas: boolean;
}

/**
 * The quoting rules are RFC 4180's, written exactly as PostgreSQL's `COPY ... CSV` writes them,
 * so that its output can stand in for ours byte for byte: a field is quoted when it holds a
 * comma, a quote, CR or LF; the empty string is quoted (`""`) so that it stays distinct from
 * NULL (an empty field); lines end with LF. Leading and trailing spaces are kept unquoted, as
 * RFC 4180 says they are part of the field.
 */
const NEEDS_QUOTES = /[",\r\n]/;
export const CSV_EOL = '\n';

export function quoteCsv(text: string): string {
  if (text === '') return '""';
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvField(value: Value, isText: boolean, options: CsvOptions): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  return quoteCsv(isText && options.escapeFormulas ? escapeFormula(value) : value);
}

export function csvHeader(columns: Columns): string {
  return columns.map((c) => quoteCsv(c.name)).join(',') + CSV_EOL;
}

/** A single-column line `\.` would read as PostgreSQL's end-of-data marker; COPY quotes it. */
export function singleColumnField(value: Value, isText: boolean, options: CsvOptions): string {
  const field = csvField(value, isText, options);
  return field === '\\.' ? '"\\."' : field;
}

/** One batch of rows as CSV text: the pure core that the CSV sink wraps. */
export function encodeCsvBatch(batch: Batch, columns: Columns, options: CsvOptions): string {
  const text = columns.map((c) => c.type === 'text');
  const width = columns.length;
  let out = '';
  if (width === 1) {
    for (const row of batch) out += singleColumnField(row[0] ?? null, text[0]!, options) + CSV_EOL;
    return out;
  }
  for (const row of batch) {
    for (let i = 0; i < width; i++) {
      if (i > 0) out += ',';
      out += csvField(row[i] ?? null, text[i]!, options);
    }
    out += CSV_EOL;
  }
  return out;
}
