import type { Database } from './database.ts';
import { PostgresDatabase, type PostgresOptions } from './postgres.ts';
import { SqliteDatabase, type SqliteOptions } from './sqlite.ts';
import { parseDatabaseUrl } from './url.ts';

export type OpenOptions = SqliteOptions & PostgresOptions;

/** Opens a database by URL. Connections are made lazily, so a bad URL fails here and an unreachable server on first use. */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  const location = parseDatabaseUrl(url);
  return location.dialect === 'sqlite'
    ? new SqliteDatabase(location.path, location.label, options)
    : new PostgresDatabase(location.connectionString, location.label, options);
}
