import { SluiceError, isAbortError } from '../core/errors.ts';

interface DriverError {
  code?: unknown;
  message?: unknown;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', '28000', '28P01', '57P03']);

function missingTable(message: string): string | undefined {
  return /no such table: (\S+)/.exec(message)?.[1] ?? /relation "([^"]+)" does not exist/.exec(message)?.[1];
}

/**
 * Maps a better-sqlite3 or pg error to a SluiceError whose message tells the user what to do;
 * the original error stays in `cause`.
 */
export function translateDbError(error: unknown, label: string): SluiceError {
  if (error instanceof SluiceError) return error;
  if (isAbortError(error)) return new SluiceError('ABORTED', 'The run was aborted.', { cause: error });
  const { code, message } = (error ?? {}) as DriverError;
  const text = typeof message === 'string' && message ? message : String(error);
  const table = missingTable(text);
  if (table) {
    return new SluiceError('MISSING_TABLE', `Table "${table}" does not exist in ${label}. Run \`sluice db init --db ${label}\` first.`, { cause: error });
  }
  if (code === 'SQLITE_CANTOPEN') {
    return new SluiceError('DATABASE_UNREACHABLE', `Cannot open ${label}: the file does not exist or is not readable. Run \`sluice db init --db ${label}\` to create it.`, { cause: error });
  }
  if (code === '3D000') {
    const name = /database "([^"]+)" does not exist/.exec(text)?.[1] ?? 'the database';
    return new SluiceError('DATABASE_UNREACHABLE', `The server answers, but database "${name}" does not exist there (${label}). Create it (\`createdb ${name}\`, or \`sluice db init --create --db ...\`), or fix --db / DATABASE_URL.`, { cause: error });
  }
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    const detail = text.includes(code) ? text : `${code}: ${text}`;
    return new SluiceError('DATABASE_UNREACHABLE', `Cannot connect to ${label} (${detail}). Check that the server is running and --db or DATABASE_URL.`, { cause: error });
  }
  if (/timeout (expired|exceeded) when trying to connect|connection timeout/i.test(text)) {
    return new SluiceError('DATABASE_UNREACHABLE', `Cannot connect to ${label}: no answer within the connect timeout (--connect-timeout). Check the host, the port and any firewall.`, { cause: error });
  }
  if (code === '57P01' || code === '57P02' || /Connection terminated/i.test(text)) {
    return new SluiceError('CONNECTION_LOST', `Lost the connection to ${label}: ${text}`, { cause: error });
  }
  if (code === '57014' && /statement timeout/.test(text)) {
    return new SluiceError('TIMEOUT', `A statement on ${label} ran longer than the statement timeout (--statement-timeout) and was cancelled.`, { cause: error });
  }
  if (/Query read timeout/.test(text)) {
    return new SluiceError('TIMEOUT', `${label} did not answer a statement within the statement timeout (--statement-timeout); the server or the network is stalled.`, { cause: error });
  }
  if (code === '57014') return new SluiceError('ABORTED', `The query on ${label} was cancelled.`, { cause: error });
  return new SluiceError('QUERY_FAILED', `Query on ${label} failed: ${text}`, { cause: error });
}
