import type { Column, ColumnType, Columns, SheetEncoding, TextEncoding, Value } from '../core/types.ts';
import type { ParamValues } from '../core/params.ts';
import { type BinaryCopy, type CopyQuery, type Dialect, type PagedSelect, type SqlQuery, placeholder, quoteIdent } from '../core/database.ts';
import { type KeyRange, type RangeSource, rangeCondition } from './key-ranges.ts';

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

/** One key range of a parallel export (see key-ranges.ts); `keyType` casts the bounds on PostgreSQL. */
export interface PartRange {
  readonly range: KeyRange;
  readonly keyType?: string;
}

/**
 * A slice of the rows in key order, `after < key <= through` (either end open): a segment of an
 * export that takes checkpoints. The limit parameter does not apply to a slice: the caller sizes
 * the slices (see buildRangeEnd). Key values travel as text and are cast to the key's type.
 */
export interface SliceRange {
  readonly key: string;
  readonly keyType: ColumnType;
  readonly after?: string;
  readonly through?: string;
}

/**
 * Timestamps leave the database as canonical ISO text on both engines. SQLite stores that text
 * already; the CASE only normalises rows written by other tools as `YYYY-MM-DD HH:MM:SS`.
 */
function selectExpression(dialect: Dialect, column: Column): string {
  const name = quoteIdent(column.name);
  if (column.type !== 'timestamp') return name;
  if (dialect === 'postgres') return `to_char(${name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${name}`;
  // strftime gives NULL for text it cannot read (a year past 9999, `infinity`): the stored value then, never an empty cell.
  return `CASE WHEN length(${name}) = 24 THEN ${name} ELSE coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', ${name}), ${name}) END AS ${name}`;
}

/** SQLite compares an integer key with a bound number; text would also work through affinity, but only as long as no one changes the column. */
function sqliteInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** A key value kept as text (a checkpoint), as SQLite compares it with the key's column. */
function sqliteKey(text: string, type: ColumnType): Value {
  return type === 'integer' ? sqliteInteger(text) : text;
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

  /** A key value kept as text (a checkpoint), compared as the key's own type. */
  bindKey(text: string, type: ColumnType): string {
    if (this.dialect === 'sqlite') return this.bind(sqliteKey(text, type));
    const mark = this.bind(text);
    return type === 'integer' ? `${mark}::bigint` : type === 'timestamp' ? `${mark}::timestamptz` : mark;
  }

  range(range: SliceRange): void {
    const key = quoteIdent(range.key);
    if (range.after !== undefined) this.clauses.push(`${key} > ${this.bindKey(range.after, range.keyType)}`);
    if (range.through !== undefined) this.clauses.push(`${key} <= ${this.bindKey(range.through, range.keyType)}`);
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

/** Where a query's rows are cut: a parallel export's part, or a slice of a checkpointed export. */
export type Restriction = PartRange | SliceRange;

function whereFor(dialect: Dialect, spec: SelectSpec, params: ParamValues, marker?: Marker, restrict?: Restriction): Where {
  const where = new Where(dialect, marker);
  for (const filter of spec.filters ?? []) {
    const value = params[filter.param];
    if (value !== undefined && value !== '') where.add(filter, value);
  }
  if (restrict && 'range' in restrict) {
    const part = restrict;
    where.clauses.push(...rangeCondition(spec.orderBy, part.range, (v) => (part.keyType ? `${where.bind(v)}::${part.keyType}` : where.bind(v))));
  } else if (restrict) where.range(restrict);
  return where;
}

function limitFor(where: Where, spec: SelectSpec, params: ParamValues, atMost = Infinity): string {
  const param = spec.limitParam ? params[spec.limitParam] : undefined;
  const limit = Math.min(typeof param === 'number' ? param : Infinity, atMost);
  return Number.isFinite(limit) ? ` LIMIT ${where.bindInteger(limit)}` : '';
}

/** A slice is sized by its caller (buildRangeEnd); the whole query and a part keep the limit, which a part's range already honours. */
function keepsLimit(restrict: Restriction | undefined): boolean {
  return !restrict || 'range' in restrict;
}

function selectText(where: Where, spec: SelectSpec, params: ParamValues, list: string, restrict?: Restriction): string {
  // A bare name would order by an output column of the key's name (a timestamp made text, a formula-escaped string, a number cast to text) where the key's own value is what `key > last` compares.
  const order = `${quoteIdent(spec.table)}.${quoteIdent(spec.orderBy)}`;
  const text = `SELECT ${list} FROM ${quoteIdent(spec.table)}${where.toSql()} ORDER BY ${order}`;
  return keepsLimit(restrict) ? text + limitFor(where, spec, params) : text;
}

/** The export query (or one slice of it): bound parameters only, never values spliced into SQL. */
export function buildSelect(dialect: Dialect, spec: SelectSpec, params: ParamValues, restrict?: Restriction): SqlQuery {
  const where = whereFor(dialect, spec, params, undefined, restrict);
  const list = spec.columns.map((c) => selectExpression(dialect, c)).join(', ');
  return { text: selectText(where, spec, params, list, restrict), values: where.values };
}

/** A restriction's lower bound (as SQLite compares it), and the restriction without it. */
function splitLowerBound(restrict: Restriction | undefined): { after: Value | undefined; upTo: Restriction | undefined } {
  if (!restrict) return { after: undefined, upTo: undefined };
  if ('range' in restrict) return { after: restrict.range.after, upTo: { ...restrict, range: { ...restrict.range, after: undefined } } };
  const after = restrict.after === undefined ? undefined : sqliteKey(restrict.after, restrict.keyType);
  return { after, upTo: { ...restrict, after: undefined } };
}

/** The export query's rows in pages of its unique key (see PagedSelect); no limit clause: the reader cuts the pages to the limit. */
export function buildPagedSelect(spec: SelectSpec, params: ParamValues, restrict?: Restriction): PagedSelect {
  // The range's lower bound becomes the first page's: two lower bounds on the key would leave SQLite seeking from the range's start for every page.
  const { after, upTo } = splitLowerBound(restrict);
  const where = whereFor('sqlite', spec, params, undefined, upTo);
  const limit = spec.limitParam && keepsLimit(restrict) ? params[spec.limitParam] : undefined;
  return {
    table: spec.table,
    key: spec.orderBy,
    columns: spec.columns,
    conditions: where.clauses,
    values: where.values,
    expressions: spec.columns.map((c) => selectExpression('sqlite', c)),
    ...(after !== undefined ? { after } : {}),
    ...(typeof limit === 'number' ? { limit } : {}),
  };
}

/**
 * The key of the `rows`-th row after `range.after` (no row: fewer remain), as text: where a slice
 * of `rows` rows ends. An index on the key (with the filters' columns) answers it without
 * reading the rows themselves.
 */
export function buildRangeEnd(dialect: Dialect, spec: SelectSpec, params: ParamValues, range: SliceRange, rows: number): SqlQuery {
  const where = whereFor(dialect, spec, params, undefined, range);
  const key = quoteIdent(range.key);
  const offset = where.bindInteger(rows - 1);
  // Named apart from the column: PostgreSQL's ORDER BY would take an output column of the key's name, and sort the text.
  const text = `SELECT ${dialect === 'postgres' ? `${key}::text` : key} AS sluice_key FROM ${quoteIdent(spec.table)}${where.toSql()} ORDER BY ${key} LIMIT 1 OFFSET ${offset}`;
  return { text, values: where.values };
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
export function buildCopy(spec: SelectSpec, params: ParamValues, encoding: TextEncoding, restrict?: Restriction): CopyQuery {
  const where = whereFor('postgres', spec, params, (n) => `current_setting('sluice.p${n}')`, restrict);
  const escape = encoding.escapeFormulas;
  const list = spec.columns.map((c) => (escape && c.type === 'text' ? formulaEscaped(c.name) : selectExpression('postgres', c))).join(', ');
  const options = encoding.format === 'csv' ? ['FORMAT csv'] : ['FORMAT text', "NULL ''"];
  if (encoding.header) options.push('HEADER true');
  const binary = binaryCopy(where, spec, params, encoding, restrict);
  return { text: `COPY (${selectText(where, spec, params, list, restrict)}) TO STDOUT WITH (${options.join(', ')})`, settings: where.values, binary };
}

/**
 * An XLSX export's rows as binary COPY, for the reader to write as sheet rows
 * (src/format/pg-binary-sheet.ts); there is no text COPY of a sheet to fall back on, so `text`
 * is the binary one. `sampleRows`: the first batch of the row path, which sizes the columns.
 */
export function buildSheetCopy(spec: SelectSpec, params: ParamValues, encoding: SheetEncoding, sampleRows: number): CopyQuery {
  const where = whereFor('postgres', spec, params, (n) => `current_setting('sluice.p${n}')`);
  const binary = { ...binaryCopy(where, spec, params, encoding), sampleRows };
  return { text: binary.text, settings: where.values, binary };
}

function binaryCopy(where: Where, spec: SelectSpec, params: ParamValues, encoding: TextEncoding | SheetEncoding, restrict?: Restriction): BinaryCopy {
  const list = spec.columns.map(binaryExpression).join(', ');
  return {
    text: `COPY (${selectText(where, spec, params, list, restrict)}) TO STDOUT WITH (FORMAT binary)`,
    describe: `SELECT ${spec.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(spec.table)} LIMIT 0`,
    columns: spec.columns,
    encoding,
  };
}

/**
 * A column as binary COPY sends it for src/format/pg-binary-rows.ts: text as it is, a number as
 * its text (the server's own digits), a timestamp as the value `to_char` formats in
 * selectExpression (sluice's sessions run in UTC, see postgres.ts, so its microseconds are that
 * UTC wall time whether the column has a time zone or not).
 */
function binaryExpression(column: Column): string {
  const name = quoteIdent(column.name);
  if (column.type === 'integer') return `${name}::text AS ${name}`;
  if (column.type === 'timestamp') return `${name} AT TIME ZONE 'UTC' AS ${name}`;
  return name;
}

/** Counts what `buildSelect` would return, limit included, stopping at `atMost` rows. */
export function buildCount(dialect: Dialect, spec: SelectSpec, params: ParamValues, atMost?: number): SqlQuery {
  const where = whereFor(dialect, spec, params);
  const inner = `SELECT 1 FROM ${quoteIdent(spec.table)}${where.toSql()}${limitFor(where, spec, params, atMost)}`;
  return { text: `SELECT count(*) FROM (${inner}) AS matching`, values: where.values };
}

/** The rows `buildSelect` returns, for the key-range planner: same filters, same limit. */
export function rangeSource(dialect: Dialect, spec: SelectSpec, params: ParamValues): RangeSource {
  const where = whereFor(dialect, spec, params);
  const limit = spec.limitParam ? params[spec.limitParam] : undefined;
  return {
    table: spec.table,
    key: spec.orderBy,
    ...(where.clauses.length ? { where: where.clauses.join(' AND ') } : {}),
    values: where.values,
    ...(typeof limit === 'number' ? { limit } : {}),
  };
}
