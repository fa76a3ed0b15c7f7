import { SluiceError } from '../core/errors.ts';
import { quoteIdent } from '../core/database.ts';
import { translateDbError } from './errors.ts';
import { loadPg } from './pg-modules.ts';
import { redactUrl } from './url.ts';

/**
 * Creates the database a PostgreSQL URL names, if it does not exist, through the server's
 * `postgres` maintenance database. Resolves to whether it was created.
 */
export async function createPostgresDatabase(connectionString: string): Promise<boolean> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new SluiceError('INVALID_DATABASE_URL', `${redactUrl(connectionString)} names no database to create.`);
  url.pathname = '/postgres';
  const client = new (loadPg().Client)({ connectionString: url.toString(), connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    return true;
  } catch (error) {
    throw translateDbError(error, redactUrl(url.toString()));
  } finally {
    await client.end().catch(() => undefined);
  }
}
