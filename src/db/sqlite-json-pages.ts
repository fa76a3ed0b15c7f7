import { isUtf8 } from 'node:buffer';
import type BetterSqlite3 from 'better-sqlite3';
import { type PagedSelect, quoteIdent } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import type { Columns, Row } from '../core/types.ts';

/**
 * An export read a page at a time, each page one blob that SQLite writes itself: the page's
 * rows as JSON arrays (`json_array()`), one per line. better-sqlite3 makes a JavaScript value
 * for every value of every row it returns (13 million for a million tickets: most of a
 * row-by-row export's time); a page is one Buffer, which src/format/json-rows.ts turns into
 * CSV, TSV or TXT bytes. Measurements in bench/RESULTS.md.
 *
 * JSON keeps what the row encoders need to know: NULL apart from '' and integers apart from
 * text and from reals, written exactly (reals to 17 digits). Pages follow the unique key
 * (`key > last`), all in one read transaction, so they are the rows one query would return.
 */

/** SQLite's affinity rules (https://sqlite.org/datatype3.html#determination_of_column_affinity), for TEXT only. */
function textAffinity(declared: string): boolean {
  const type = declared.toUpperCase();
  return !type.includes('INT') && (type.includes('CHAR') || type.includes('CLOB') || type.includes('TEXT'));
}

/**
 * The arguments of `json_array()`, one per column, or undefined when a column could hold what
 * JSON would not write as the row encoders do. A text column must have TEXT affinity, so that
 * its values are text (or a BLOB, cast to the text the row path reads it as); a real there would
 * be cast with SQLite's 15 digits. An integer column may hold anything: only a BLOB is cast,
 * which `json_array()` would otherwise read as JSONB.
 */
export function jsonArguments(columns: Columns, declared: ReadonlyMap<string, string>): string | undefined {
  const args: string[] = [];
  for (const column of columns) {
    const type = declared.get(asciiLower(column.name));
    if (type === undefined) return undefined;
    const name = quoteIdent(column.name);
    if (column.type === 'integer') args.push(`iif(typeof(${name}) = 'blob', CAST(${name} AS TEXT), ${name})`);
    else if (textAffinity(type)) args.push(`CAST(${name} AS TEXT)`);
    else return undefined;
  }
  return args.join(', ');
}

/** SQLite folds ASCII letters only when it compares names. */
function asciiLower(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The key's name in the page's rows: sluice_key, or with underscores added until no column has it. */
function keyAlias(plan: PagedSelect): string {
  const names = new Set(plan.columns.map((c) => asciiLower(c.name)));
  let alias = 'sluice_key';
  while (names.has(alias)) alias += '_';
  return alias;
}

/**
 * The page's rows (`after`: past the last key read), the key first. They are ordered by the
 * key's stored value, which `key > last` compares, not by a column's output expression of the
 * same name (a timestamp made canonical), whose order can differ for mixed formats.
 */
export function pageRowsSql(plan: PagedSelect, after: boolean): string {
  const key = quoteIdent(plan.key);
  const alias = quoteIdent(keyAlias(plan));
  const conditions = after ? [...plan.conditions, `${key} > ?`] : plan.conditions;
  const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  return `SELECT ${key} AS ${alias}, ${plan.expressions.join(', ')} FROM ${quoteIdent(plan.table)}${where} ORDER BY ${alias} LIMIT ?`;
}

/**
 * The page as one blob, its last key and its row count. The rows come from an ordered, limited
 * subquery, which SQLite runs as a co-routine feeding the aggregate in its order (a subquery with
 * LIMIT is never flattened into an aggregate), so group_concat joins them in key order.
 */
export function pageSql(plan: PagedSelect, args: string, after: boolean): string {
  const alias = quoteIdent(keyAlias(plan));
  return `SELECT CAST(group_concat(json_array(${args}), char(10)) AS BLOB), max(${alias}), count(*) FROM (${pageRowsSql(plan, after)})`;
}

/**
 * Whether the export can be read in JSON pages on this connection. Not from a UTF-16 database,
 * which casts its text to UTF-16 bytes; not for a key no index orders, which would make every page
 * a scan and sort of the whole table.
 */
function pageable(connection: BetterSqlite3.Database, plan: PagedSelect, args: string): boolean {
  if (connection.pragma('encoding', { simple: true }) !== 'UTF-8') return false;
  const explain = connection.prepare(`EXPLAIN QUERY PLAN ${pageSql(plan, args, true)}`).raw(true);
  const steps = explain.all(...plan.values, null, 1) as unknown[][];
  return !steps.some((step) => String(step.at(-1)).includes('TEMP B-TREE'));
}

/** A page read: its JSON rows, or (for text JavaScript could not hold) its rows as values. */
export type Page = { readonly rows: number; readonly json: Uint8Array } | { readonly rows: number; readonly values: Row[] };

export class JsonPages {
  readonly #connection: BetterSqlite3.Database;
  readonly #plan: PagedSelect;
  readonly #pageRows: number;
  /** The first page's SQL and the next pages' (after a key), as JSON and as rows. */
  readonly #pageSql: readonly [string, string];
  readonly #rowsSql: readonly [string, string];
  /** Prepared once, by their SQL: a page takes a few milliseconds, preparing one a good part of that. */
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #last: unknown;
  #remaining: number;
  #ended = false;

  /** Pages of `plan` on `connection`, or undefined when its columns cannot be read as JSON (see jsonArguments). */
  static open(connection: BetterSqlite3.Database, plan: PagedSelect, pageRows: number): JsonPages | undefined {
    const declared = new Map<string, string>();
    for (const [name, type] of connection.prepare('SELECT name, type FROM pragma_table_xinfo(?)').raw(true).all(plan.table) as [string, string][]) {
      declared.set(asciiLower(name), type);
    }
    const args = jsonArguments(plan.columns, declared);
    if (args === undefined || !pageable(connection, plan, args)) return undefined;
    return new JsonPages(connection, plan, pageRows, args);
  }

  private constructor(connection: BetterSqlite3.Database, plan: PagedSelect, pageRows: number, args: string) {
    this.#connection = connection;
    this.#plan = plan;
    this.#pageRows = pageRows;
    this.#pageSql = [pageSql(plan, args, false), pageSql(plan, args, true)];
    this.#rowsSql = [pageRowsSql(plan, false), pageRowsSql(plan, true)];
    this.#remaining = plan.limit ?? Infinity;
    this.#last = plan.after;
    // One snapshot for every page (a parallel part has begun its own already).
    if (!connection.inTransaction) connection.exec('BEGIN');
  }

  /** The next page, or undefined after the last. */
  next(): Page | undefined {
    if (this.#ended) return undefined;
    const after = this.#last !== undefined;
    const size = Math.min(this.#pageRows, this.#remaining);
    const binds = [...this.#plan.values, ...(after ? [this.#last] : []), size];
    const [json, last, count] = this.#statement(this.#pageSql[after ? 1 : 0]).get(...binds) as [Buffer | null, unknown, bigint];
    const rows = Number(count);
    this.#remaining -= rows;
    this.#ended = rows < size || this.#remaining === 0;
    if (rows === 0 || json === null) return undefined;
    // `key > NULL` matches nothing: the rows after a NULL key would be lost without a word.
    if (last === null) throw new SluiceError('INVALID_DEFINITION', `The export's unique key ${this.#plan.key} holds NULL in ${this.#plan.table}: declare uniqueOrderBy only for a key that is never NULL (a primary key).`);
    this.#last = last;
    if (isUtf8(json)) return { rows, json };
    // Text that is not UTF-8 (a cast BLOB, say) reads as the row path reads it: decoded with replacement characters.
    const values = this.#statement(this.#rowsSql[after ? 1 : 0]).all(...binds) as Row[];
    return { rows, values: values.map((row) => row.slice(1)) };
  }

  #statement(sql: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#connection.prepare(sql).raw(true).safeIntegers(true);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
