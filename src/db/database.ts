import type { Readable } from 'node:stream';
import type { Columns, Row, Value } from '../core/types.ts';

export type Dialect = 'sqlite' | 'postgres';

/** SQL text in the database's own placeholder style (`?` for SQLite, `$1` for PostgreSQL). */
export interface SqlQuery {
  readonly text: string;
  readonly values: readonly Value[];
}

export interface StreamOptions {
  readonly batchSize: number;
}

/** A stream of `Row[]` batches that learns its column names as the query starts returning. */
export interface BatchStream extends Readable {
  readonly columnNames: readonly string[] | undefined;
}

/** Rows to write: `key` names the column that identifies a row for updates. */
export interface WriteTarget {
  readonly table: string;
  readonly columns: Columns;
}

/**
 * One database, whatever the engine. A stream owns its own connection for its whole life and
 * releases it in `_destroy`, so an abandoned stream can never pin the database.
 */
export interface Database {
  readonly dialect: Dialect;
  /** The URL without credentials. */
  readonly label: string;
  /** A Readable of `Row[]` batches, rows as arrays in select-list order. */
  streamBatches(query: SqlQuery, options: StreamOptions): BatchStream;
  /** A small query answered in full (counts, pre-flight checks). */
  query(query: SqlQuery): Promise<Row[]>;
  /** Runs a script of statements (DDL). */
  exec(script: string): Promise<void>;
  /** Inserts a batch with one statement in one transaction. */
  insertBatch(target: WriteTarget, rows: readonly Row[]): Promise<void>;
  close(): Promise<void>;
}

/** Placeholder for the n-th (1-based) bound value. */
export function placeholder(dialect: Dialect, n: number): string {
  return dialect === 'postgres' ? `$${n}` : '?';
}
