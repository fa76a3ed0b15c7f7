import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Row } from '../core/types.ts';
import { type Database, type SqlQuery, type StreamOptions, type UpdateTarget, type WriteTarget, quoteIdent } from './database.ts';
import { translateDbError } from './errors.ts';
import { SqliteBatchReader } from './sqlite-batch-reader.ts';

export interface SqliteOptions {
  /** Create the file (and its folder) if missing; only `db init` and seeding want this. */
  readonly create?: boolean;
}

/**
 * Unicode-aware lower() for case-insensitive search: SQLite's own lower() folds ASCII only,
 * PostgreSQL's folds all letters, and a search must match the same tickets on both.
 */
function registerFunctions(connection: BetterSqlite3.Database): void {
  connection.function('sluice_lower', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? text.toLowerCase() : text,
  );
}

const READER_CACHE_KIB = 2048;

function openConnection(path: string, options: { readonly: boolean; create: boolean }): BetterSqlite3.Database {
  if (options.create) mkdirSync(dirname(path), { recursive: true });
  const connection = new BetterSqlite3(path, { readonly: options.readonly, fileMustExist: !options.create });
  connection.pragma('busy_timeout = 5000');
  // better-sqlite3 defaults to a 16 MB page cache per connection; a sequential scan gains
  // nothing from it, and a streaming export should not hold it.
  if (options.readonly) connection.pragma(`cache_size = -${READER_CACHE_KIB}`);
  if (!options.readonly) {
    // WAL lets a streaming reader on one connection coexist with a writer on another.
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
  }
  registerFunctions(connection);
  return connection;
}

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  readonly label: string;
  readonly path: string;
  readonly #create: boolean;
  #writer: BetterSqlite3.Database | undefined;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #reader: BetterSqlite3.Database | undefined;
  readonly #readerStatements = new Map<string, BetterSqlite3.Statement>();
  #bulkWrites = false;

  constructor(path: string, label: string, options: SqliteOptions = {}) {
    this.path = path;
    this.label = label;
    this.#create = options.create ?? false;
  }

  /** The read/write connection for small queries and writes, opened on first use. */
  connection(): BetterSqlite3.Database {
    try {
      this.#writer ??= openConnection(this.path, { readonly: false, create: this.#create });
    } catch (error) {
      throw translateDbError(error, this.label);
    }
    return this.#writer;
  }

  streamBatches(query: SqlQuery, options: StreamOptions): SqliteBatchReader {
    const open = () => openConnection(this.path, { readonly: true, create: false });
    return new SqliteBatchReader(open, query, options.batchSize, this.label);
  }

  /**
   * Small queries run on a read-only connection of their own with a small page cache, so a
   * full-table count does not fill the writer's cache; kept open, with its statements, because
   * keyset pagination runs one query per page.
   */
  async query(query: SqlQuery): Promise<Row[]> {
    try {
      this.#reader ??= openConnection(this.path, { readonly: true, create: false });
      let statement = this.#readerStatements.get(query.text);
      if (!statement) {
        statement = this.#reader.prepare(query.text).raw(true);
        this.#readerStatements.set(query.text, statement);
      }
      return statement.all(...query.values) as Row[];
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async exec(script: string): Promise<void> {
    try {
      this.connection().exec(script);
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async change(query: SqlQuery): Promise<number> {
    try {
      this.#tuneForBulkWrites();
      return this.#prepared(query.text).run(...query.values).changes;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  #prepared(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.connection().prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  async insertBatch(target: WriteTarget, rows: readonly Row[]): Promise<void> {
    const names = target.columns.map((c) => quoteIdent(c.name)).join(', ');
    const marks = target.columns.map(() => '?').join(', ');
    try {
      const insert = this.#prepared(`INSERT INTO ${quoteIdent(target.table)} (${names}) VALUES (${marks})`);
      this.connection().transaction(() => {
        for (const row of rows) insert.run(row);
      })();
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * A batch of scattered updates dirties hundreds of pages, and each commit appends them all to
   * the WAL: checkpointing after every 1,000 pages (the default) would copy them back and fsync
   * after nearly every batch. 25,000 pages (100 MB of WAL) cut a million-row update from ~48 s to
   * ~14 s here; the WAL is still checkpointed, and removed when the connection closes.
   */
  #tuneForBulkWrites(): void {
    if (this.#bulkWrites) return;
    this.#bulkWrites = true;
    this.connection().pragma('wal_autocheckpoint = 25000');
  }

  async updateBatch(target: UpdateTarget, rows: readonly Row[]): Promise<number> {
    const sets = target.columns.map((c) => `${quoteIdent(c.name)} = ?`).join(', ');
    try {
      this.#tuneForBulkWrites();
      const update = this.#prepared(`UPDATE ${quoteIdent(target.table)} SET ${sets} WHERE ${quoteIdent(target.key.name)} = ?`);
      return this.connection().transaction(() => {
        let changed = 0;
        // Rows are [key, ...values]; the statement binds the values first and the key last.
        for (const row of rows) changed += update.run(row.slice(1), row[0]).changes;
        return changed;
      })();
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * better-sqlite3's online backup, into `<path>.part` renamed when complete: a file at `path`
   * is always a whole copy, even if the process dies halfway.
   */
  async backup(path: string): Promise<void> {
    const part = `${path}.part`;
    try {
      mkdirSync(dirname(path), { recursive: true });
      await this.connection().backup(part);
      renameSync(part, path);
    } catch (error) {
      if (existsSync(part)) rmSync(part, { force: true });
      throw translateDbError(error, this.label);
    }
  }

  /**
   * The writer closes last: the last connection to close checkpoints the WAL into the database
   * file and removes it, and a read-only one cannot, which would leave committed rows in the
   * -wal file only (lost to anyone who copies the .db file alone).
   */
  async close(): Promise<void> {
    this.#readerStatements.clear();
    this.#reader?.close();
    this.#reader = undefined;
    this.#statements.clear();
    this.#writer?.close();
    this.#writer = undefined;
  }
}
