import { Readable } from 'node:stream';
import type pg from 'pg';
import Cursor from 'pg-cursor';
import { SluiceError } from '../core/errors.ts';
import type { Row } from '../core/types.ts';
import type { SqlQuery } from './database.ts';
import { translateDbError } from './errors.ts';
import { backendPid, ignoreLateErrors } from './postgres-client.ts';
import { sluiceTypes } from './postgres-types.ts';

export interface CursorReaderOptions {
  readonly batchSize: number;
  readonly label: string;
  /** Cancels the backend's running statement from another connection. */
  readonly cancel: (pid: number) => Promise<void>;
}

/**
 * A server-side cursor (pg-cursor) on a client of its own, read as `Row[]` batches: each `_read`
 * fetches exactly one batch. The client is returned to the pool only after a clean end; on
 * error or early destroy the running fetch is cancelled and the client discarded, so nothing
 * half-read can leak into the next user of the pool.
 */
export class PostgresCursorReader extends Readable {
  readonly #pool: pg.Pool;
  readonly #query: SqlQuery;
  readonly #options: CursorReaderOptions;
  #client: pg.PoolClient | undefined;
  #cursor: Cursor<Row> | undefined;
  #fetching = false;
  /** The result's column names, known with the first batch. */
  columnNames: string[] | undefined;
  #finished = false;
  readonly #onClientError = (error: Error) => {
    // pg-cursor never calls back when the backend dies mid-fetch; the client's error is the only signal.
    this.destroy(new SluiceError('CONNECTION_LOST', `Lost the connection to ${this.#options.label}: ${error.message}`, { cause: error }));
  };

  constructor(pool: pg.Pool, query: SqlQuery, options: CursorReaderOptions) {
    super({ objectMode: true, highWaterMark: 2 });
    this.#pool = pool;
    this.#query = query;
    this.#options = options;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#pool.connect().then(
      (client) => {
        this.#client = client;
        client.on('error', this.#onClientError);
        const config = { rowMode: 'array' as const, types: sluiceTypes };
        this.#cursor = client.query(new Cursor<Row>(this.#query.text, [...this.#query.values], config));
        callback();
      },
      (error: unknown) => callback(translateDbError(error, this.#options.label)),
    );
  }

  override _read(): void {
    if (this.#fetching || this.#finished) return;
    this.#fetching = true;
    const batchSize = this.#options.batchSize;
    this.#cursor!.read(batchSize, (error, rows, result) => {
      this.#fetching = false;
      if (this.destroyed) return;
      if (error) {
        this.destroy(translateDbError(error, this.#options.label));
        return;
      }
      this.columnNames ??= result?.fields.map((f) => f.name);
      if (rows.length < batchSize) this.#finished = true;
      if (rows.length > 0) this.push(rows);
      if (this.#finished) this.push(null);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const client = this.#client;
    if (!client) return callback(error);
    // Swap, not just remove: a socket error while the cancel runs must not crash the process.
    client.removeListener('error', this.#onClientError);
    client.on('error', ignoreLateErrors);
    // A client that errored, or whose cursor did not run to its end, is never reused.
    const clean = this.#finished && !this.#fetching && !error;
    const pending = !clean && this.#fetching ? this.#options.cancel(backendPid(client)) : Promise.resolve();
    pending
      .catch(() => undefined)
      .finally(() => {
        client.release(clean ? undefined : (error ?? true));
        callback(error);
      });
  }
}
