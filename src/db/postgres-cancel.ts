import type pg from 'pg';
import { loadPg } from './pg-modules.ts';

/** What pg's Client knows of its backend; its typings omit these. */
interface BackendKey {
  readonly processID: number;
  readonly secretKey: number;
  readonly host: string;
  readonly port: number;
}

/** The part of pg's Connection (the wire protocol) used here; its typings omit connect and cancel. */
interface WireConnection {
  readonly stream: { destroy(): void };
  connect(portOrPath: number | string, host?: string): void;
  cancel(processID: number, secretKey: number): void;
  on(event: 'error' | 'end', listener: () => void): unknown;
  once(event: 'connect', listener: () => void): unknown;
  removeAllListeners(): unknown;
}

const CANCEL_TIMEOUT_MS = 2000;

/**
 * Cancels the statement a client's backend is running with the protocol's CancelRequest: a
 * short connection to the postmaster carrying the backend's pid and secret key, which the
 * server closes at once. Unlike `pg_cancel_backend` from a new session, it takes no connection
 * slot, so a burst of hang-ups can never push the server past its connection budget. Resolves
 * when the server has taken the request (or after a short timeout); never rejects: a cancel
 * that fails leaves the client to be discarded anyway.
 */
export function cancelRunningStatement(client: pg.PoolClient): Promise<void> {
  const { processID, secretKey, host, port } = client as unknown as BackendKey;
  return new Promise((resolve) => {
    const connection = new (loadPg().Connection)() as unknown as WireConnection;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      connection.removeAllListeners();
      connection.on('error', () => undefined);
      connection.stream.destroy();
      resolve();
    };
    timer = setTimeout(done, CANCEL_TIMEOUT_MS);
    connection.on('error', done);
    connection.on('end', done);
    connection.once('connect', () => connection.cancel(processID, secretKey));
    if (host.startsWith('/')) connection.connect(`${host}/.s.PGSQL.${port}`);
    else connection.connect(port, host);
  });
}
