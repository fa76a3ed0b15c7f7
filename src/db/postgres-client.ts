import { Readable, type ReadableOptions } from 'node:stream';
import type pg from 'pg';
import { SluiceError } from '../core/errors.ts';
import { translateDbError } from './errors.ts';
import { cancelRunningStatement } from './postgres-cancel.ts';

export interface ClientReaderOptions {
  /** The database URL without credentials, for messages. */
  readonly label: string;
  /** The server sends nothing for this long while we wait on it: the read fails (0: never). */
  readonly stallTimeoutMs: number;
  /** Read in this exported snapshot (pg_export_snapshot) instead of a fresh one: see `streamingTransaction`. */
  readonly snapshot?: string;
  /** COPY exports read binary COPY and encode it here (see PostgresOptions.copyEncoding); default true. */
  readonly binaryCopy?: boolean;
}

/** Errors of a client being discarded: the run has already failed or finished. */
function ignoreLateErrors(): void {}

/**
 * The transaction every streaming read runs in: read-only, and without the pool's per-statement
 * timeout, which would count a whole export as one statement (a cursor's fetches and a COPY are
 * one statement to the server). Progress is watched on our side instead (see `awaitServer`).
 */
export const STREAMING_TRANSACTION = 'BEGIN READ ONLY; SET LOCAL statement_timeout = 0';

/** What pg_export_snapshot() returns (e.g. 00000003-0000001B-1): checked before it is spliced into SET TRANSACTION SNAPSHOT, which takes no parameter. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/i;

/** A snapshot id as PostgreSQL gives them, or an INTERNAL error. */
export function checkedSnapshotId(id: string): string {
  if (!SNAPSHOT_ID.test(id)) throw new SluiceError('INTERNAL', `Unexpected snapshot id: ${id}`);
  return id;
}

/**
 * The statement that opens a transaction in an exported snapshot, as `pg_dump -j` does: every
 * reader of one parallel export, or of one partitioned run, sees the same committed rows.
 */
export function snapshotTransaction(snapshot: string, extra = ''): string {
  return `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${checkedSnapshotId(snapshot)}'${extra}`;
}

/** A streaming read's transaction: STREAMING_TRANSACTION, in `snapshot` when one is given. */
export function streamingTransaction(snapshot: string | undefined): string {
  return snapshot === undefined ? STREAMING_TRANSACTION : snapshotTransaction(snapshot, '; SET LOCAL statement_timeout = 0');
}

/**
 * A Readable that owns one pooled client for its whole life (the cursor and COPY readers).
 * The client goes back to the pool only after a clean end; on error or early destroy a running
 * statement is cancelled (the protocol's CancelRequest, which takes no connection slot) and the
 * client is discarded, so nothing half-read can leak into the next user of the pool.
 *
 * While the reader waits on the server, a watchdog fails the read if nothing arrives for
 * `stallTimeoutMs`: a stopped backend or a dead network path otherwise hangs a run forever (TCP
 * keepalive does not fire while the server's kernel still answers). While the reader waits on
 * its consumer (backpressure), the watchdog is off: a slow consumer is not a stalled server.
 */
export abstract class PooledClientReader extends Readable {
  readonly #pool: pg.Pool;
  protected readonly options: ClientReaderOptions;
  protected client: pg.PoolClient | undefined;
  /** A statement is running on the server: destroying now must cancel it. */
  protected busy = false;
  /** The reader reached its end cleanly: the client may be reused. */
  protected finished = false;
  #watchdog: NodeJS.Timeout | undefined;
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
        this.awaitServer();
        await this.start(client);
      })
      .then(
        () => callback(),
        (error: unknown) => callback(translateDbError(error, this.options.label)),
      );
  }

  /** We wait on the server (a fetch, the COPY's next bytes): (re)start the watchdog. */
  protected awaitServer(): void {
    clearTimeout(this.#watchdog);
    const ms = this.options.stallTimeoutMs;
    if (ms <= 0) return;
    this.#watchdog = setTimeout(() => {
      const seconds = Math.round(ms / 1000);
      this.destroy(new SluiceError('TIMEOUT', `${this.options.label} sent nothing for ${seconds} s while a query was running; the server or the network is stalled (--stall-timeout).`));
    }, ms);
  }

  /** The server answered, or we stopped asking (backpressure, the end): the watchdog rests. */
  protected serverAnswered(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.serverAnswered();
    const client = this.client;
    if (!client) return callback(error);
    client.removeListener('error', this.#onClientError);
    const clean = this.finished && !this.busy && !error;
    if (clean) {
      client.release();
      return callback(error);
    }
    // Discarded: a socket error while the cancel runs must not crash the process.
    client.on('error', ignoreLateErrors);
    const cancelling = this.busy ? cancelRunningStatement(client) : Promise.resolve();
    void cancelling.then(() => {
      client.release(error ?? true);
      callback(error);
    });
  }
}
