import { Readable } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { SluiceError } from '../core/errors.ts';
import type { CopyQuery } from './database.ts';
import { translateDbError } from './errors.ts';
import { backendPid, ignoreLateErrors } from './postgres-client.ts';

export interface CopyReaderOptions {
  readonly label: string;
  /** Cancels the backend's running statement from another connection. */
  readonly cancel: (pid: number) => Promise<void>;
}

/**
 * The bytes of `COPY (SELECT ...) TO STDOUT`, with backpressure, on a client of its own, inside a
 * read-only transaction. The query's values are bound with `set_config` (COPY itself takes no
 * parameters) and read back in the SQL with `current_setting`: they are never spliced into SQL.
 * As with the cursor reader, a client that did not reach a clean end is cancelled and discarded.
 */
export class PostgresCopyReader extends Readable {
  readonly #pool: pg.Pool;
  readonly #query: CopyQuery;
  readonly #options: CopyReaderOptions;
  #client: pg.PoolClient | undefined;
  #copy: (Readable & { rowCount: number }) | undefined;
  #running = false;
  #finished = false;
  /** Data rows copied, known at the end. */
  rowCount: number | undefined;
  readonly #onClientError = (error: Error) => {
    this.destroy(new SluiceError('CONNECTION_LOST', `Lost the connection to ${this.#options.label}: ${error.message}`, { cause: error }));
  };

  constructor(pool: pg.Pool, query: CopyQuery, options: CopyReaderOptions) {
    super({ highWaterMark: 256 * 1024 });
    this.#pool = pool;
    this.#query = query;
    this.#options = options;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#start().then(
      () => callback(),
      (error: unknown) => callback(translateDbError(error, this.#options.label)),
    );
  }

  async #start(): Promise<void> {
    const client = await this.#pool.connect();
    this.#client = client;
    client.on('error', this.#onClientError);
    this.#running = true;
    await client.query('BEGIN READ ONLY');
    const { settings } = this.#query;
    if (settings.length > 0) {
      const assignments = settings.map((_, i) => `set_config('sluice.p${i + 1}', $${i + 1}, true)`).join(', ');
      await client.query(`SELECT ${assignments}`, settings.map(String));
    }
    const copy = client.query(copyTo(this.#query.text)) as unknown as Readable & { rowCount: number };
    this.#copy = copy;
    copy.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) copy.pause();
    });
    copy.on('error', (error: Error) => this.destroy(translateDbError(error, this.#options.label)));
    copy.on('end', () => void this.#complete());
  }

  /** COMMIT completes after COPY's CommandComplete, which carries the row count. */
  async #complete(): Promise<void> {
    try {
      await this.#client!.query('COMMIT');
      this.rowCount = this.#copy!.rowCount;
      this.#running = false;
      this.#finished = true;
      this.push(null);
    } catch (error) {
      this.destroy(translateDbError(error, this.#options.label));
    }
  }

  override _read(): void {
    this.#copy?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const client = this.#client;
    if (!client) return callback(error);
    // Swap, not just remove: a socket error while the cancel runs must not crash the process.
    client.removeListener('error', this.#onClientError);
    client.on('error', ignoreLateErrors);
    const clean = this.#finished && !error;
    const pending = !clean && this.#running ? this.#options.cancel(backendPid(client)) : Promise.resolve();
    pending
      .catch(() => undefined)
      .finally(() => {
        client.release(clean ? undefined : (error ?? true));
        callback(error);
      });
  }
}
