import type { Batch, Columns, Value } from '../core/types.ts';
import { escapeFormula } from './formula.ts';

const SPECIAL = /[\t\n\r\\\b\f\v]/;
const SPECIAL_ALL = /[\t\n\r\\\b\f\v]/g;
const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\v': '\\v' };

export interface TsvOptions {
  /** Prefix formula-looking text cells with `'`, before the escapes (on by default, as for CSV). */
  readonly escapeFormulas: boolean;
}

/**
 * PostgreSQL text-format escaping: tab, LF, CR and backslash become `\t`, `\n`, `\r`, `\\`, so
 * every record is exactly one line; backspace, form feed and vertical tab become `\b`, `\f`,
 * `\v` as PostgreSQL's `COPY` writes them. NULL is an empty field.
 */
export function tsvField(value: Value): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : value;
}

/** A cell of a column: text gets the formula escape first (a spreadsheet opens TSV as readily as CSV). */
export function tsvCell(value: Value, isText: boolean, options: TsvOptions): string {
  return tsvField(isText && options.escapeFormulas && typeof value === 'string' ? escapeFormula(value) : value);
}

export function tsvHeader(columns: Columns): string {
  return columns.map((c) => tsvField(c.name)).join('\t') + '\n';
}

export function encodeTsvBatch(batch: Batch, columns: Columns, options: TsvOptions): string {
  const text = columns.map((c) => c.type === 'text');
  const width = columns.length;
  let out = '';
  for (const row of batch) {
    for (let i = 0; i < width; i++) {
      if (i > 0) out += '\t';
      out += tsvCell(row[i] ?? null, text[i]!, options);
    }
    out += '\n';
  }
  return out;
}

/** One value per line (the first column), escaped as in TSV so a value can never split a line. */
export function encodeLinesBatch(batch: Batch, columns: Columns, options: TsvOptions): string {
  const isText = columns[0]?.type === 'text';
  let out = '';
  for (const row of batch) out += tsvCell(row[0] ?? null, isText, options) + '\n';
  return out;
}
