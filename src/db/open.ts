import type { Database } from '../core/database.ts';
import { PostgresDatabase } from './postgres.ts';
import type { PostgresOptions } from './postgres-options.ts';
import { SqliteDatabase } from './sqlite.ts';
import type { SqliteOptions } from './sqlite-options.ts';
import { parseDatabaseUrl } from './url.ts';

/** Options for either engine (each reads its own); their types live apart from the drivers, so no driver's types reach an app's compiler. */
export type OpenOptions = SqliteOptions & PostgresOptions;

/** Opens a database by URL. Connections are made lazily, so a bad URL fails here and an unreachable server on first use. */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  const location = parseDatabaseUrl(url);
  return location.dialect === 'sqlite'
    ? new SqliteDatabase(location.path, location.label, options)
    : new PostgresDatabase(location.connectionString, location.label, options);
}
