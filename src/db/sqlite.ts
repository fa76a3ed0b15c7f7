import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Row } from '../core/types.ts';
import type { Database, SqlQuery, StreamOptions, WriteTarget } from './database.ts';
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

function openConnection(path: string, options: { readonly: boolean; create: boolean }): BetterSqlite3.Database {
  if (options.create) mkdirSync(dirname(path), { recursive: true });
  const connection = new BetterSqlite3(path, { readonly: options.readonly, fileMustExist: !options.create });
  connection.pragma('busy_timeout = 5000');
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

  async query(query: SqlQuery): Promise<Row[]> {
    try {
      return this.connection().prepare(query.text).raw(true).all(...query.values) as Row[];
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

  #prepared(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.connection().prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  async insertBatch(target: WriteTarget, rows: readonly Row[]): Promise<void> {
    const names = target.columns.map((c) => `"${c.name}"`).join(', ');
    const marks = target.columns.map(() => '?').join(', ');
    try {
      const insert = this.#prepared(`INSERT INTO "${target.table}" (${names}) VALUES (${marks})`);
      this.connection().transaction(() => {
        for (const row of rows) insert.run(row);
      })();
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async close(): Promise<void> {
    this.#statements.clear();
    this.#writer?.close();
    this.#writer = undefined;
  }
}
