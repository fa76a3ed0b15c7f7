import type { Readable } from 'node:stream';
import type { Column, Columns, EncodedStream, Row, SheetEncoding, SqlEncoding, TextEncoding, Value } from './values.ts';

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

/**
 * A `COPY ... TO STDOUT` statement: COPY takes no bind parameters, so its values travel as
 * `settings` (bound with `set_config`, read in the SQL with `current_setting('sluice.pN')`).
 */
export interface CopyQuery {
  readonly text: string;
  readonly settings: readonly Value[];
  /** The same rows as values in binary COPY, for the reader to encode when the columns' types allow (src/format/pg-binary-rows.ts). */
  readonly binary?: BinaryCopy;
}

/**
 * A binary COPY of an export's values (same settings), and what the reader needs to encode them
 * as `text` would have (CSV, TSV, TXT), or as the row path writes a sheet's rows (XLSX).
 */
export interface BinaryCopy {
  readonly text: string;
  /** `SELECT <the columns> FROM <table> LIMIT 0`: its fields' types tell whether the binary COPY can stand in. */
  readonly describe: string;
  readonly columns: Columns;
  readonly encoding: TextEncoding | SheetEncoding;
  /** A sheet's column widths come from its first rows, as many as the row path's first batch holds. */
  readonly sampleRows?: number;
}

/**
 * The export query's rows in pages of its unique key (`key > last` up to a page's rows), for a
 * reader that fetches each page in one step (src/db/sqlite-json-pages.ts). Plain data, so that
 * it can travel to a worker thread (src/db/select.ts builds it).
 */
export interface PagedSelect {
  readonly table: string;
  readonly key: string;
  readonly columns: Columns;
  /** The filters and the part's range, as SQL conditions with `?` placeholders for `values`. */
  readonly conditions: readonly string[];
  readonly values: readonly Value[];
  /** Each column's select expression (timestamps made canonical), named as the column. */
  readonly expressions: readonly string[];
  /** The key the first page starts after (the range's lower bound). */
  readonly after?: Value;
  readonly limit?: number;
}

/** How `encodeRows` writes the rows: the columns' types decide the escapes. */
export interface EncodeRequest {
  readonly columns: Columns;
  readonly encoding: SqlEncoding;
  readonly batchSize: number;
  /** More queries of the same export follow (its next slices): an engine may keep what it started (a thread) for them. */
  readonly more?: boolean;
  /** The same rows in pages of a unique key, for an engine that reads faster that way (SQLite's JSON pages). */
  readonly pages?: PagedSelect;
}

/** Rows to write: `key` names the column that identifies a row for updates. */
export interface WriteTarget {
  readonly table: string;
  readonly columns: Columns;
}

/** Rows to update: each row is `[key, ...columns]`, the key value first. */
export interface UpdateTarget {
  readonly table: string;
  /** The column that identifies a row (compared with `=`). */
  readonly key: Column;
  /** The columns to set, in row order after the key. */
  readonly columns: Columns;
}

/** What an upsert does with a row whose key is already in the table. */
export type UpsertMode = 'insert' | 'upsert' | 'skip-existing';

/** Rows to insert or update by a unique key (`key` names one of `columns`). */
export interface UpsertTarget extends WriteTarget {
  readonly key: string;
  /** insert: such a row is not written (the caller rejects it); upsert: it is updated; skip-existing: it is left alone. */
  readonly mode: UpsertMode;
}

/** How an upserted batch went: rows inserted and updated, and the indexes of rows whose key was already there and were not written. */
export interface UpsertOutcome {
  readonly inserted: number;
  readonly updated: number;
  readonly existing: readonly number[];
}

/**
 * Writes that commit together or not at all (an `--atomic` import): one transaction on a
 * connection of its own, open from `beginWrites` to `commit` or `rollback` (one of which must come).
 */
export interface WriteSession {
  upsertBatch(target: UpsertTarget, rows: readonly Row[]): Promise<UpsertOutcome>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** A lock held on a connection of its own until released, or until that connection is lost. */
export interface HeldLock {
  /** Aborts if the lock is lost (its connection dropped, its lease taken over): the holder must stop. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
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
  /** The encoded bytes of a `COPY ... TO STDOUT`, where the engine has one (PostgreSQL). */
  copyOut?(query: CopyQuery): EncodedStream;
  /**
   * An XLSX sheet's rows encoded from the binary COPY of `query.binary` (PostgreSQL), or undefined
   * when the columns' types or the connection do not allow it (the rows then take the row path).
   */
  copyOutSheet?(query: CopyQuery): Promise<EncodedStream | undefined>;
  /** A query's rows encoded off the main thread, where the engine reads synchronously (SQLite). */
  encodeRows?(query: SqlQuery, request: EncodeRequest): EncodedStream;
  /** A small query answered in full (counts, pre-flight checks). */
  query(query: SqlQuery): Promise<Row[]>;
  /** One statement that changes rows, in a transaction of its own; resolves to how many it changed. */
  change(query: SqlQuery): Promise<number>;
  /** Runs a script of statements (DDL). */
  exec(script: string): Promise<void>;
  /** Inserts a batch with one statement in one transaction. */
  insertBatch(target: WriteTarget, rows: readonly Row[]): Promise<void>;
  /**
   * Updates a batch by key with one set-based statement (or one prepared statement) in one
   * transaction, never a round trip per row. Resolves to the number of rows changed.
   */
  updateBatch(target: UpdateTarget, rows: readonly Row[]): Promise<number>;
  /** Inserts (or updates, by `mode`) a batch with one statement in one transaction; its keys must be distinct. */
  upsertBatch(target: UpsertTarget, rows: readonly Row[]): Promise<UpsertOutcome>;
  /** Opens a transaction for writes that must commit together. */
  beginWrites(): Promise<WriteSession>;
  /**
   * Takes a named lock held by a connection of its own, where the engine has such locks
   * (PostgreSQL's advisory locks: a holder that dies releases it with its connection).
   * Resolves to undefined when another session holds it.
   */
  advisoryLock?(name: string): Promise<HeldLock | undefined>;
  /** An online copy of the whole database to `path`; only engines that can do it in-process (SQLite). */
  backup?(path: string): Promise<void>;
  close(): Promise<void>;
}

/** A table or column name in SQL; names come from definitions, and are quoted all the same. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Placeholder for the n-th (1-based) bound value. */
export function placeholder(dialect: Dialect, n: number): string {
  return dialect === 'postgres' ? `$${n}` : '?';
}
