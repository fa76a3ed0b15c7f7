import type { Column, Columns, SqlEncoding, Value } from '../core/types.ts';
import type { ParamValues } from '../core/params.ts';
import { type CopyQuery, type Dialect, type SqlQuery, placeholder, quoteIdent } from './database.ts';

/** Declarative filters: each is applied only when its parameter has a value. */
export type Filter =
  | { readonly op: 'equals'; readonly param: string; readonly column: string }
  /** Inclusive date range bounds on a timestamp column (the parameter is a YYYY-MM-DD date, UTC). */
  | { readonly op: 'onOrAfterDate' | 'onOrBeforeDate'; readonly param: string; readonly column: string }
  /** Case-insensitive substring match on any of the columns. */
  | { readonly op: 'contains'; readonly param: string; readonly columns: readonly string[] };

export interface SelectSpec {
  readonly table: string;
  readonly columns: Columns;
  readonly orderBy: string;
  readonly filters?: readonly Filter[];
  /** Name of the parameter that caps the row count exactly. */
  readonly limitParam?: string;
}

/**
 * Timestamps leave the database as canonical ISO text on both engines. SQLite stores that text
 * already; the CASE only normalises rows written by other tools as `YYYY-MM-DD HH:MM:SS`.
 */
function selectExpression(dialect: Dialect, column: Column): string {
  const name = quoteIdent(column.name);
  if (column.type !== 'timestamp') return name;
  if (dialect === 'postgres') return `to_char(${name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${name}`;
  return `CASE WHEN length(${name}) = 24 THEN ${name} ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ${name}) END AS ${name}`;
}

function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00.000Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

/** How the n-th bound value appears in the SQL text. */
type Marker = (n: number) => string;

class Where {
  readonly clauses: string[] = [];
  readonly values: Value[] = [];
  constructor(
    readonly dialect: Dialect,
    readonly marker: Marker = (n) => placeholder(dialect, n),
  ) {}

  bind(value: Value): string {
    this.values.push(value);
    return this.marker(this.values.length);
  }

  bindInteger(value: number): string {
    const mark = this.bind(value);
    return this.dialect === 'postgres' ? `${mark}::bigint` : mark;
  }

  /** A bound timestamp, cast where the engine compares real timestamps. */
  bindTimestamp(iso: string): string {
    const mark = this.bind(iso);
    return this.dialect === 'postgres' ? `${mark}::timestamptz` : mark;
  }

  lower(column: string): string {
    return this.dialect === 'postgres' ? `lower(${quoteIdent(column)})` : `sluice_lower(${quoteIdent(column)})`;
  }

  add(filter: Filter, value: string | number | boolean): void {
    switch (filter.op) {
      case 'equals':
        this.clauses.push(`${quoteIdent(filter.column)} = ${this.bind(String(value))}`);
        return;
      case 'onOrAfterDate':
        this.clauses.push(`${quoteIdent(filter.column)} >= ${this.bindTimestamp(`${value}T00:00:00.000Z`)}`);
        return;
      case 'onOrBeforeDate':
        this.clauses.push(`${quoteIdent(filter.column)} < ${this.bindTimestamp(nextDay(String(value)))}`);
        return;
      case 'contains': {
        const needle = String(value).toLowerCase();
        const fn = this.dialect === 'postgres' ? 'strpos' : 'instr';
        this.clauses.push(`(${filter.columns.map((c) => `${fn}(${this.lower(c)}, ${this.bind(needle)}) > 0`).join(' OR ')})`);
        return;
      }
    }
  }

  toSql(): string {
    return this.clauses.length ? ` WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

function whereFor(dialect: Dialect, spec: SelectSpec, params: ParamValues, marker?: Marker): Where {
  const where = new Where(dialect, marker);
  for (const filter of spec.filters ?? []) {
    const value = params[filter.param];
    if (value !== undefined && value !== '') where.add(filter, value);
  }
  return where;
}

function limitFor(where: Where, spec: SelectSpec, params: ParamValues, atMost = Infinity): string {
  const param = spec.limitParam ? params[spec.limitParam] : undefined;
  const limit = Math.min(typeof param === 'number' ? param : Infinity, atMost);
  return Number.isFinite(limit) ? ` LIMIT ${where.bindInteger(limit)}` : '';
}

function selectText(where: Where, spec: SelectSpec, params: ParamValues, list: string): string {
  const text = `SELECT ${list} FROM ${quoteIdent(spec.table)}${where.toSql()} ORDER BY ${quoteIdent(spec.orderBy)}`;
  return text + limitFor(where, spec, params);
}

/** The export query: bound parameters only, never values spliced into SQL. */
export function buildSelect(dialect: Dialect, spec: SelectSpec, params: ParamValues): SqlQuery {
  const where = whereFor(dialect, spec, params);
  const list = spec.columns.map((c) => selectExpression(dialect, c)).join(', ');
  return { text: selectText(where, spec, params, list), values: where.values };
}

/**
 * src/format/formula.ts's rule in SQL: a text cell starting with =, @, tab or CR, or with + or -
 * followed by anything but a plain number or phone number, gets a leading '.
 */
function formulaEscaped(column: string): string {
  const name = quoteIdent(column);
  // ascii() of the first character (61 =, 64 @, 9 tab, 13 CR, 43 +, 45 -) is far cheaper than left() or a regex on every value.
  const risky = `ascii(${name}) IN (61, 64, 9, 13) OR (ascii(${name}) IN (43, 45) AND length(${name}) > 1 AND ${name} !~ '^[+-][0-9][0-9 ().-]*$')`;
  return `CASE WHEN ${risky} THEN '''' || ${name} ELSE ${name} END AS ${name}`;
}

/**
 * PostgreSQL writes the export itself: `COPY (SELECT ...) TO STDOUT` in CSV or text format,
 * producing the bytes of sluice's own CSV, TSV and TXT encoders (tests hold the two paths
 * byte-identical).
 */
export function buildCopy(spec: SelectSpec, params: ParamValues, encoding: SqlEncoding): CopyQuery {
  const where = whereFor('postgres', spec, params, (n) => `current_setting('sluice.p${n}')`);
  const escape = encoding.format === 'csv' && encoding.escapeFormulas;
  const list = spec.columns.map((c) => (escape && c.type === 'text' ? formulaEscaped(c.name) : selectExpression('postgres', c))).join(', ');
  const options = encoding.format === 'csv' ? ['FORMAT csv'] : ['FORMAT text', "NULL ''"];
  if (encoding.header) options.push('HEADER true');
  return { text: `COPY (${selectText(where, spec, params, list)}) TO STDOUT WITH (${options.join(', ')})`, settings: where.values };
}

/** Counts what `buildSelect` would return, limit included, stopping at `atMost` rows. */
export function buildCount(dialect: Dialect, spec: SelectSpec, params: ParamValues, atMost?: number): SqlQuery {
  const where = whereFor(dialect, spec, params);
  const inner = `SELECT 1 FROM ${quoteIdent(spec.table)}${where.toSql()}${limitFor(where, spec, params, atMost)}`;
  return { text: `SELECT count(*) FROM (${inner}) AS matching`, values: where.values };
}
