import { SluiceError } from '../core/errors.ts';

export type DatabaseLocation =
  | { readonly dialect: 'sqlite'; readonly path: string; readonly label: string }
  | { readonly dialect: 'postgres'; readonly connectionString: string; readonly label: string };

/** `--db` wins over `DATABASE_URL`, which wins over the app's default; with none of them, a usage error. */
export function resolveDatabaseUrl(flag: string | undefined, fallback: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag || env.DATABASE_URL || fallback;
  if (!url) throw new SluiceError('USAGE', 'Name a database: --db sqlite:path/to/file.db (or postgres://user@host:port/db), or set DATABASE_URL.');
  return url;
}

/** The URL without its password, safe for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (typeof url !== 'string' || url === '') {
    throw new SluiceError('INVALID_DATABASE_URL', 'A database URL is needed: sqlite:path/to/file.db, a path ending in .db, or postgres://user@host:port/database (--db, or DATABASE_URL).');
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    return { dialect: 'postgres', connectionString: url, label: redactUrl(url) };
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path) return { dialect: 'sqlite', path, label: `sqlite:${path}` };
  } else if (/\.(db|sqlite3?)$/i.test(url) && !url.includes('://')) {
    return { dialect: 'sqlite', path: url, label: `sqlite:${url}` };
  }
  throw new SluiceError(
    'INVALID_DATABASE_URL',
    `Cannot use database "${redactUrl(url)}": expected sqlite:path/to/file.db, a path ending in .db, or postgres://user@host:port/database.`,
  );
}
