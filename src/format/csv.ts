import type { Batch, Columns, Value } from '../core/types.ts';
import { escapeFormula } from './formula.ts';

export interface CsvOptions {
  /** Prefix formula-looking text cells with `'` (on by default). */
  readonly escapeFormulas: boolean;
  readonly delimiter?: string;
  /** RFC 4180 says CRLF. */
  readonly eol?: string;
}

/**
 * Quote when RFC 4180 requires it (delimiter, quote, CR, LF) and also for the empty string, so
 * that NULL (an empty field) and '' stay distinct, and for leading or trailing whitespace,
 * which some readers would otherwise trim.
 */
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function quoteCsv(text: string, delimiter = ','): string {
  if (text === '') return '""';
  const needs = delimiter === ',' ? NEEDS_QUOTES.test(text) : NEEDS_QUOTES.test(text) || text.includes(delimiter);
  return needs ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvField(value: Value, isText: boolean, options: CsvOptions): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  return quoteCsv(isText && options.escapeFormulas ? escapeFormula(value) : value, options.delimiter);
}

export function csvHeader(columns: Columns, options: CsvOptions): string {
  const delimiter = options.delimiter ?? ',';
  return columns.map((c) => quoteCsv(c.name, delimiter)).join(delimiter) + (options.eol ?? '\r\n');
}

/** One batch of rows as CSV text: the pure core that the CSV sink wraps. */
export function encodeCsvBatch(batch: Batch, columns: Columns, options: CsvOptions): string {
  const delimiter = options.delimiter ?? ',';
  const eol = options.eol ?? '\r\n';
  const text = columns.map((c) => c.type === 'text');
  const width = columns.length;
  let out = '';
  for (const row of batch) {
    for (let i = 0; i < width; i++) {
      if (i > 0) out += delimiter;
      out += csvField(row[i] ?? null, text[i]!, options);
    }
    out += eol;
  }
  return out;
}
