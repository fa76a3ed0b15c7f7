import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../core/errors.ts';
import { releaseYoungBuffers } from '../core/heap.ts';
import type { FromEncoderThread, ToEncoderThread } from './encoder-thread-protocol.ts';

/** Chunks (of about 64 KB) the thread may have sent ahead of what the reader's consumer took. */
const WINDOW = 2;
/** The thread's young generation: a stream of short-lived strings needs little (as the CLI's --max-semi-space-size). */
const WORKER_YOUNG_MB = 8;
/** After a stop, how long the thread has to close its connection before it is terminated. */
const STOP_GRACE_MS = 1000;

/**
 * A compiled worker module (`name`.js): beside this file in dist/, or, when running from the
 * TypeScript sources (tests, tsx scripts), under dist/ too, which `npm install`, bin/sluice.mjs
 * and the tests' setup keep built. A worker thread runs plain JavaScript.
 */
export function workerUrl(name: string): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL(`../../dist/src/db/${name}.js`, here) : new URL(`./${name}.js`, here);
}

/** A new encoder thread running `url` with `workerData`. */
export function startEncoderThread(url: URL, workerData: unknown): Worker {
  return new Worker(url, { workerData, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
}

/**
 * The encoded bytes a worker thread reads and encodes, with backpressure: the thread sends a
 * chunk only against a credit, and the reader gives credit only as its consumer takes chunks.
 * `rowCount` is exact at the end. Destroying the reader stops the thread, which closes its
 * connection (or is terminated if it does not within a second). A subclass says how the thread
 * starts (`openThread`) and hears the messages of its own database (`receiveOther`).
 */
export abstract class EncoderThreadReader<To extends { readonly type: string } = ToEncoderThread, From extends { readonly type: string } = FromEncoderThread> extends Readable {
  readonly encodedBy = 'a worker thread';
  readonly #label: string;
  #worker: Worker | undefined;
  /** Credits given and not yet used by a chunk. */
  #outstanding = 0;
  /** Chunk buffers read and copied out, to go back to the thread with the next credit. */
  #returned: ArrayBuffer[] = [];
  #exited = false;
  rowCount: number | undefined;
  /** Rows encoded so far, as reported with each chunk. */
  rowsSoFar = 0;

  /** `label`: the database, for the failures of the thread itself. */
  constructor(label: string) {
    super({ highWaterMark: 0 });
    this.#label = label;
  }

  /** The thread, started or taken from where a previous reader left it. */
  protected abstract openThread(): Worker;

  /** A message of the subclass's own protocol. */
  protected abstract receiveOther(message: Exclude<From, FromEncoderThread>): void;

  /** The rows have ended: the thread is closing its connection (or is kept: see SqliteEncodedReader). */
  protected ended(): void {}

  readonly #onMessage = (message: From | FromEncoderThread) => this.#receive(message);
  readonly #onError = (error: Error) => this.destroy(new SluiceError('INTERNAL', `The reader thread of ${this.#label} failed: ${error.message}`, { cause: error }));
  readonly #onExit = () => {
    this.#exited = true;
    if (this.rowCount === undefined && !this.destroyed) this.destroy(new SluiceError('INTERNAL', `The reader thread of ${this.#label} stopped before the end of the rows.`));
  };

  override _construct(callback: (error?: Error | null) => void): void {
    const worker = this.openThread();
    this.#worker = worker;
    worker.on('message', this.#onMessage);
    worker.on('error', this.#onError);
    worker.on('exit', this.#onExit);
    callback();
  }

  /** The thread, no longer this reader's (it stays for another: see SqliteEncodedReader). */
  protected releaseThread(): Worker {
    const worker = this.#worker!;
    this.#worker = undefined;
    worker.off('message', this.#onMessage);
    worker.off('error', this.#onError);
    worker.off('exit', this.#onExit);
    return worker;
  }

  protected send(message: To | ToEncoderThread, transfer: ArrayBuffer[] = []): void {
    if (!this.#exited) this.#worker?.postMessage(message, transfer);
  }

  /** Bytes the thread sent, pushed on; `returned`: the transferred buffer they came in, to go back to the thread to be filled again. */
  protected pushBytes(bytes: Uint8Array, rows: number, returned?: ArrayBuffer): void {
    this.#outstanding--;
    this.rowsSoFar = rows;
    this.push(bytes);
    if (returned) this.#returned.push(returned);
    releaseYoungBuffers(bytes.length);
  }

  #receive(message: From | FromEncoderThread): void {
    if (this.destroyed) return;
    const common = message as FromEncoderThread;
    switch (common.type) {
      case 'chunk':
        // A copy of our own: the thread's buffer goes back to it.
        this.pushBytes(Buffer.from(new Uint8Array(common.bytes, 0, common.length)), common.rows, common.bytes);
        return;
      case 'end':
        this.rowCount = common.rowCount;
        this.ended();
        this.push(null);
        return;
      case 'error':
        this.destroy(new SluiceError(common.code, common.message));
        return;
      case 'opened':
      case 'begun':
        // The snapshot handshake of a parallel export's part.
        this.emit(common.type);
        return;
      default:
        this.receiveOther(message as Exclude<From, FromEncoderThread>);
    }
  }

  override _read(): void {
    if (this.rowCount !== undefined) return;
    const credits = WINDOW - this.#outstanding;
    if (credits <= 0) return;
    this.#outstanding += credits;
    const buffers = this.#returned;
    this.#returned = [];
    this.send({ type: 'credit', credits, buffers }, buffers);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const worker = this.#worker;
    // After the end the thread has closed its connection and is exiting on its own.
    if (!worker || this.#exited || this.rowCount !== undefined) return callback(error);
    this.send({ type: 'stop' });
    const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    worker.once('exit', () => {
      clearTimeout(timer);
      callback(error);
    });
  }
}
