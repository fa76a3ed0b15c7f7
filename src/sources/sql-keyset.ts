import { Readable } from 'node:stream';
import { columnIndex } from '../core/columns.ts';
import type { Columns, Row, SourceSpec, Value } from '../core/types.ts';
import { type Database, type Dialect, type SqlQuery, placeholder, quoteIdent } from '../core/database.ts';

export interface SqlKeysetConfig {
  readonly summary: string;
  readonly table: string;
  readonly columns: Columns;
  /**
   * A unique, indexed column among `columns`: pages are `key > last ORDER BY key`. It may depend
   * on the engine, because the order decides which pages a writer downstream rewrites per batch.
   */
  readonly key: string | ((dialect: Dialect) => string);
  /** A fixed SQL condition (no user input) the rows must meet, per dialect. */
  readonly where?: (dialect: Dialect) => string;
}

const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

interface PageQueries {
  first(limit: number): SqlQuery;
  after(last: Value, limit: number): SqlQuery;
}

function keyOf(config: SqlKeysetConfig, dialect: Dialect): string {
  return typeof config.key === 'function' ? config.key(dialect) : config.key;
}

function pageQueries(config: SqlKeysetConfig, dialect: Dialect): PageQueries {
  const names = config.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = quoteIdent(keyOf(config, dialect));
  const condition = config.where ? `(${config.where(dialect)})` : undefined;
  const base = `SELECT ${names} FROM ${quoteIdent(config.table)}`;
  const first = `${base}${condition ? ` WHERE ${condition}` : ''} ORDER BY ${key} LIMIT ${placeholder(dialect, 1)}`;
  const after = `${base} WHERE ${key} > ${placeholder(dialect, 1)}${condition ? ` AND ${condition}` : ''} ORDER BY ${key} LIMIT ${placeholder(dialect, 2)}`;
  return {
    first: (limit) => ({ text: first, values: [limit] }),
    after: (last, limit) => ({ text: after, values: [last, limit] }),
  };
}

/**
 * Pages through a table by key, each page a short query of its own. No cursor stays open between
 * pages, so on SQLite the same connection can write between two reads (an iterating statement
 * would make it "busy"), and rows changed by the pipeline behind the cursor never come back.
 */
export class KeysetReader extends Readable {
  readonly #db: Database;
  readonly #queries: PageQueries;
  readonly #keyIndex: number;
  readonly #batchSize: number;
  #last: Value | undefined;
  #started = false;

  constructor(db: Database, config: SqlKeysetConfig, batchSize: number) {
    super({ objectMode: true, highWaterMark: 1 });
    this.#db = db;
    this.#queries = pageQueries(config, db.dialect);
    const key = keyOf(config, db.dialect);
    this.#keyIndex = columnIndex(config.columns, key);
    this.#batchSize = batchSize;
  }

  override _read(): void {
    // better-sqlite3 answers synchronously: without a macrotask between pages a whole migration
    // would run in microtasks, and timers, signals and other requests would wait for its end.
    setImmediate(() => this.#fetch());
  }

  #fetch(): void {
    if (this.destroyed) return;
    const query = this.#started ? this.#queries.after(this.#last!, this.#batchSize) : this.#queries.first(this.#batchSize);
    this.#started = true;
    this.#db.query(query).then(
      (rows) => this.#deliver(rows),
      (error: Error) => this.destroy(error),
    );
  }

  #deliver(rows: Row[]): void {
    if (this.destroyed) return;
    if (rows.length > 0) {
      this.#last = rows[rows.length - 1]![this.#keyIndex]!;
      this.push(rows);
    }
    // A short page is the last one: no need for a query that finds nothing.
    if (rows.length < this.#batchSize) this.push(null);
  }
}

/** Rows of one table meeting a fixed condition, in key order, read page by page (keyset pagination). */
export function sqlKeyset(config: SqlKeysetConfig): SourceSpec<{}> {
  return {
    kind: 'source.sql-keyset',
    summary: config.summary,
    columns: config.columns,
    check(columns) {
      for (const dialect of DIALECTS) columnIndex(columns, keyOf(config, dialect));
    },
    async count(ctx) {
      const db = await ctx.database();
      const where = config.where ? ` WHERE ${config.where(db.dialect)}` : '';
      const [row] = await db.query({ text: `SELECT count(*) FROM ${quoteIdent(config.table)}${where}`, values: [] });
      return Number(row?.[0] ?? 0);
    },
    async open(ctx) {
      return new KeysetReader(await ctx.database(), config, ctx.batchSize);
    },
    async keyset(ctx) {
      const { dialect } = await ctx.database();
      return { table: config.table, key: keyOf(config, dialect), where: config.where?.(dialect) };
    },
  };
}
