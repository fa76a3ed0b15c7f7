import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { loadSqlite } from './sqlite-module.ts';
import { SluiceError } from '../core/errors.ts';

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

/**
 * A connection that only reads, yet is opened read-write (with `query_only` on): when it is the
 * last connection to the file to close, SQLite checkpoints the WAL into the database and removes
 * it, which a read-only connection cannot do. Otherwise an export that outlives a migration in
 * another process would leave the migration's whole WAL (hundreds of MB) beside the file. A file
 * the OS does not let us write is still opened, read-only.
 */
/** SQLite's own error for a directory is "disk I/O error"; say what it is. */
function refuseDirectory(path: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new SluiceError('INVALID_DATABASE_URL', `sqlite:${path} is a directory, not a database file: name the .db file inside it.`);
  }
}

export function openReader(path: string): BetterSqlite3.Database {
  refuseDirectory(path);
  const connection = new (loadSqlite())(path, { fileMustExist: true });
  connection.pragma('busy_timeout = 5000');
  connection.pragma('query_only = ON');
  // better-sqlite3 defaults to a 16 MB page cache per connection; a sequential scan gains
  // nothing from it, and a streaming export should not hold it.
  connection.pragma(`cache_size = -${READER_CACHE_KIB}`);
  registerFunctions(connection);
  return connection;
}

export interface Writer {
  readonly connection: BetterSqlite3.Database;
  /** The journal mode the file had before this connection switched it to WAL, to put back at close. */
  readonly restoreJournal: string | undefined;
}

export function openWriter(path: string, create: boolean): Writer {
  refuseDirectory(path);
  const existed = existsSync(path);
  if (create) mkdirSync(dirname(path), { recursive: true });
  const connection = new (loadSqlite())(path, { fileMustExist: !create });
  connection.pragma('busy_timeout = 5000');
  const found = existed ? String(connection.pragma('journal_mode', { simple: true })) : 'wal';
  // WAL lets a streaming reader on one connection coexist with a writer on another. A file we
  // create stays in WAL; one found in another mode gets its mode back when we close.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  registerFunctions(connection);
  return { connection, restoreJournal: found === 'wal' ? undefined : found };
}
