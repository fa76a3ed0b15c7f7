import { Readable, type ReadableOptions } from 'node:stream';
import type pg from 'pg';
import { SluiceError } from '../core/errors.ts';
import { translateDbError } from './errors.ts';

export interface ClientReaderOptions {
  /** The database URL without credentials, for messages. */
  readonly label: string;
  /** Cancels the backend's running statement from another connection. */
  readonly cancel: (pid: number) => Promise<void>;
}

/** pg sets `processID` on every connected client; its typings omit it. */
function backendPid(client: pg.PoolClient): number {
  return (client as unknown as { processID: number }).processID;
}

/** Errors of a client being discarded: the run has already failed or finished. */
function ignoreLateErrors(): void {}

/**
 * A Readable that owns one pooled client for its whole life (the cursor and COPY readers).
 * The client goes back to the pool only after a clean end; on error or early destroy a running
 * statement is cancelled (`pg_cancel_backend` from another connection) and the client is
 * discarded, so nothing half-read can leak into the next user of the pool.
 */
export abstract class PooledClientReader extends Readable {
  readonly #pool: pg.Pool;
  protected readonly options: ClientReaderOptions;
  protected client: pg.PoolClient | undefined;
  /** A statement is running on the server: destroying now must cancel it. */
  protected busy = false;
  /** The reader reached its end cleanly: the client may be reused. */
  protected finished = false;
  readonly #onClientError = (error: Error) => {
    // pg-cursor and pg-copy-streams never call back when the backend dies mid-statement; the client's error is the only signal.
    this.destroy(new SluiceError('CONNECTION_LOST', `Lost the connection to ${this.options.label}: ${error.message}`, { cause: error }));
  };

  constructor(pool: pg.Pool, options: ClientReaderOptions, streamOptions: ReadableOptions) {
    super(streamOptions);
    this.#pool = pool;
    this.options = options;
  }

  /** Starts the statement on the freshly connected client. */
  protected abstract start(client: pg.PoolClient): Promise<void> | void;

  override _construct(callback: (error?: Error | null) => void): void {
    this.#pool
      .connect()
      .then(async (client) => {
        this.client = client;
        client.on('error', this.#onClientError);
        await this.start(client);
      })
      .then(
        () => callback(),
        (error: unknown) => callback(translateDbError(error, this.options.label)),
      );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const client = this.client;
    if (!client) return callback(error);
    // Swap, not just remove: a socket error while the cancel runs must not crash the process.
    client.removeListener('error', this.#onClientError);
    client.on('error', ignoreLateErrors);
    const clean = this.finished && !this.busy && !error;
    const cancelling = !clean && this.busy ? this.options.cancel(backendPid(client)) : Promise.resolve();
    cancelling
      .catch(() => undefined)
      .finally(() => {
        client.release(clean ? undefined : (error ?? true));
        callback(error);
      });
  }
}
