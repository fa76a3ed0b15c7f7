import { SluiceError } from '../core/errors.ts';
import type { ParamValues } from '../core/params.ts';
import type { Column, Value } from '../core/values.ts';
import { needsFormulaEscape } from './formula.ts';

/** A column an import fills: its type, and the rules a value must meet. */
export interface ImportColumn extends Column {
  /** A row without a value here is rejected (default: NULL is allowed). */
  readonly required?: boolean;
  /** The only values allowed (an enum). */
  readonly values?: readonly string[];
  /** An app's own rule: undefined when the (coerced) value is fine, else the reason it is not; `params` are the run's. */
  readonly check?: (value: Value, params: ParamValues) => string | undefined;
}

/** A value as a file gives it: text from CSV/XLSX (null for an empty unquoted CSV field), any JSON value from NDJSON. */
export type RawValue = string | number | boolean | null | undefined | object;

export type Coerced = { readonly ok: true; readonly value: Value } | { readonly ok: false; readonly reason: string };

/** `Ticket Number`, `ticket-number` and `ticket_number` name the same column. */
export function headerKey(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_-]+/g, '_');
}

/**
 * Which column (its index) an input header or key names: the explicit `mapping` first
 * (`{ "Ticket No": "ticket_number" }`), then the column whose name matches by `headerKey`;
 * undefined for none. A mapping to a column that does not exist is refused here, whatever the
 * input turns out to hold, so CSV, XLSX and NDJSON refuse it alike.
 */
export function headerResolver(columns: readonly ImportColumn[], mapping: Readonly<Record<string, string>> = {}): (name: string) => number | undefined {
  const byKey = new Map(columns.map((column, i) => [headerKey(column.name), i]));
  for (const [from, to] of Object.entries(mapping)) {
    const at = columns.findIndex((c) => c.name === to);
    if (at === -1) throw new SluiceError('INVALID_DEFINITION', `The mapping sends "${from}" to "${to}", which is not a column of the import (${columns.map((c) => c.name).join(', ')}).`);
    byKey.set(headerKey(from), at);
  }
  return (name) => byKey.get(headerKey(name));
}

/**
 * Which field of each record fills each column (-1: none), from the input's header (see
 * headerResolver). Headers that match no column are returned as `ignored`.
 */
export function mapHeader(header: readonly string[], columns: readonly ImportColumn[], mapping: Readonly<Record<string, string>> = {}): { readonly fields: number[]; readonly ignored: string[] } {
  const columnOf = headerResolver(columns, mapping);
  const fields = columns.map(() => -1);
  const ignored: string[] = [];
  header.forEach((name, field) => {
    const at = columnOf(name);
    if (at === undefined) return void ignored.push(name);
    if (fields[at] !== -1) throw new SluiceError('INPUT_FAILED', `Two input columns fill "${columns[at]!.name}": "${header[fields[at]!]}" and "${name}".`);
    fields[at] = field;
  });
  const missing = columns.filter((column, i) => column.required && fields[i] === -1);
  if (missing.length > 0) {
    throw new SluiceError('INPUT_FAILED', `The input has no column for ${missing.map((c) => `"${c.name}"`).join(', ')} (its header: ${header.map((h) => `"${h}"`).join(', ') || 'empty'}).`);
  }
  return { fields, ignored };
}

/** The exact inverse of escapeFormula: `'=SUM(A1)` is read as `=SUM(A1)`; `'hello` stays as it is. */
export function unescapeFormula(text: string): string {
  return text.charCodeAt(0) === 39 && needsFormulaEscape(text.slice(1)) ? text.slice(1) : text;
}

const INTEGER = /^-?\d+$/;
const CANONICAL_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

function integerValue(raw: RawValue): Value | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string' || !INTEGER.test(raw.trim())) return undefined;
  const text = raw.trim();
  const n = Number(text);
  if (Number.isSafeInteger(n)) return n;
  const big = BigInt(text);
  return big >= -(2n ** 63n) && big < 2n ** 63n ? big : undefined;
}

/** Minutes east of UTC of an ISO-8601 offset (`Z`, `+02`, `+0530`, `-03:00`). */
function offsetMinutes(zone: string | undefined): number {
  if (zone === undefined || zone.toUpperCase() === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return zone[0] === '-' ? -minutes : minutes;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `yyyy-mm-ddThh:mm:ss.mmmZ` (its shape already checked) names a real moment: read digit by digit, a microsecond a value less than through Date. */
function isValidCanonical(text: string): boolean {
  const n = (at: number, length: number) => {
    let value = 0;
    for (let i = at; i < at + length; i++) value = value * 10 + text.charCodeAt(i) - 48;
    return value;
  };
  const year = n(0, 4);
  const month = n(5, 2);
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const day = n(8, 2);
  // Years before 1000 go the long way, where Date.UTC's two-digit-year rule is checked.
  return year >= 1000 && month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0) && n(11, 2) <= 23 && n(14, 2) <= 59 && n(17, 2) <= 59;
}

/** ISO-8601 with or without seconds, milliseconds and offset (none: UTC), as canonical `...T00:00:07.000Z`. */
function timestampValue(raw: RawValue): string | undefined {
  // Exports write the canonical form; taking it as it is when it reads back the same halves an import's coercion time.
  if (typeof raw === 'string' && CANONICAL_TIMESTAMP.test(raw) && isValidCanonical(raw)) return raw;
  const m = typeof raw === 'string' ? TIMESTAMP.exec(raw.trim()) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '0', ms = '0', zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms.padEnd(3, '0'))] as const;
  // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999 (an export writes 0044 for 44 AD).
  const check = new Date(0);
  check.setUTCFullYear(fields[0], fields[1], fields[2]);
  check.setUTCHours(fields[3], fields[4], fields[5], fields[6]);
  // Dates roll over (February 30th becomes March 2nd): a date that changes is not a date. Year 0 is none.
  if (fields[0] === 0 || check.getUTCFullYear() !== fields[0] || check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) return undefined;
  return new Date(check.getTime() - offsetMinutes(zone) * 60_000).toISOString();
}

function show(raw: RawValue): string {
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

export interface CoerceOptions {
  /** Undo the formula escape (default true). */
  readonly unescape?: boolean;
  /** The run's parameters, for the columns' own rules. */
  readonly params?: ParamValues;
}

/**
 * One input value as the column's type, or why it cannot be: the rules every import applies
 * before a row reaches the database. `unescape` undoes the formula escape sluice's exports add.
 */
export function coerceValue(raw: RawValue, column: ImportColumn, options: CoerceOptions = {}): Coerced {
  if (raw === null || raw === undefined || (raw === '' && column.required)) return column.required ? { ok: false, reason: `missing required ${column.name}` } : { ok: true, value: null };
  let value: Value | undefined;
  if (column.type === 'integer') value = integerValue(raw);
  else if (column.type === 'timestamp') value = timestampValue(raw);
  else if (typeof raw === 'string') value = options.unescape === false ? raw : unescapeFormula(raw);
  else if (typeof raw === 'number') value = String(raw);
  if (value === undefined) {
    const expected = column.type === 'integer' ? 'an integer' : column.type === 'timestamp' ? 'an ISO-8601 timestamp' : 'text';
    return { ok: false, reason: `bad ${column.type === 'text' ? 'value' : column.type} for ${column.name}: ${show(raw)} is not ${expected}` };
  }
  if (column.values && !column.values.includes(String(value))) return { ok: false, reason: `${column.name} ${show(raw)} is not one of ${column.values.join(', ')}` };
  const broken = column.check?.(value, options.params ?? {});
  return broken === undefined ? { ok: true, value } : { ok: false, reason: broken };
}

/** A record's values for the columns (`fields[i]` of the record, or missing), coerced; or every reason it cannot be. */
export function coerceRow(raw: (column: number) => RawValue, columns: readonly ImportColumn[], options: CoerceOptions = {}): { readonly row: Value[] } | { readonly reason: string } {
  const row: Value[] = new Array(columns.length);
  const reasons: string[] = [];
  for (let i = 0; i < columns.length; i++) {
    const coerced = coerceValue(raw(i), columns[i]!, options);
    if (coerced.ok) row[i] = coerced.value;
    else reasons.push(coerced.reason);
  }
  return reasons.length === 0 ? { row } : { reason: reasons.join('; ') };
}
