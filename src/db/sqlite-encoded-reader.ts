import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../core/errors.ts';
import { releaseYoungBuffers } from '../core/heap.ts';
import { JsonRowsTranscoder } from '../format/json-rows.ts';
import type { EncoderJob, FromEncoder, ToEncoder } from './sqlite-encoder-protocol.ts';

/** Chunks (of about 256 KB) the worker may have sent ahead of what the reader's consumer took. */
const WINDOW = 2;
/** The worker's young generation: a stream of short-lived strings needs little (as the CLI's --max-semi-space-size). */
const WORKER_YOUNG_MB = 8;
/** After a stop, how long the worker has to close its connection before it is terminated. */
const STOP_GRACE_MS = 1000;

/**
 * The compiled worker: beside this file in dist/, or, when running from the TypeScript sources
 * (tests, tsx scripts), under dist/ too, which `npm install`, bin/sluice.mjs and the tests' setup
 * keep built. A worker thread runs plain JavaScript.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/src/db/sqlite-encoder-worker.js', here) : new URL('./sqlite-encoder-worker.js', here);
}

/**
 * The encoded bytes of a SQLite query, read and encoded in a worker thread (see
 * sqlite-encoder-worker.ts), with backpressure: the worker sends a chunk only against a credit,
 * and the reader gives credit only as its consumer takes chunks. `rowCount` is exact at the end.
 * Destroying the reader stops the worker, which closes its connection.
 */
/** Where a reader whose job said `more` leaves its thread, and the next reader takes it (see SqliteDatabase). */
export interface EncoderThreads {
  take(): Worker | undefined;
  keep(worker: Worker): void;
}

export class SqliteEncodedReader extends Readable {
  readonly #job: EncoderJob;
  readonly #threads: EncoderThreads | undefined;
  #worker: Worker | undefined;
  /** Credits given and not yet used by a chunk. */
  #outstanding = 0;
  /** Chunk buffers read and copied out, to go back to the worker with the next credit. */
  #returned: ArrayBuffer[] = [];
  #exited = false;
  rowCount: number | undefined;
  readonly encodedBy = 'a worker thread';
  /** Rows encoded so far, as reported with each chunk. */
  rowsSoFar = 0;

  constructor(job: EncoderJob, threads?: EncoderThreads) {
    super({ highWaterMark: 0 });
    this.#job = job;
    this.#threads = threads;
  }

  readonly #onMessage = (message: FromEncoder) => this.#receive(message);
  readonly #onError = (error: Error) => this.destroy(new SluiceError('INTERNAL', `The SQLite reader thread failed: ${error.message}`, { cause: error }));
  readonly #onExit = () => {
    this.#exited = true;
    if (this.rowCount === undefined && !this.destroyed) this.destroy(new SluiceError('INTERNAL', 'The SQLite reader thread stopped before the end of the rows.'));
  };

  #transcoder: JsonRowsTranscoder | undefined;

  #jsonRows(): JsonRowsTranscoder {
    const { encoding, columns } = this.#job;
    if (encoding.format === 'xlsx-sheet') throw new SluiceError('INTERNAL', 'The SQLite reader thread sent JSON rows for an XLSX sheet.');
    return (this.#transcoder ??= new JsonRowsTranscoder(columns, encoding));
  }

  override _construct(callback: (error?: Error | null) => void): void {
    // A thread kept from the export's previous slice: starting one costs more than a slice of thousands of rows.
    const kept = this.#threads?.take();
    const worker = kept ?? new Worker(workerUrl(), { workerData: this.#job, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
    if (kept) worker.postMessage({ type: 'job', job: this.#job } satisfies ToEncoder);
    this.#worker = worker;
    worker.on('message', this.#onMessage);
    worker.on('error', this.#onError);
    worker.on('exit', this.#onExit);
    callback();
  }

  /** After a job that said `more`: the thread, idle, goes to the next slice's reader. */
  #handOver(): void {
    const worker = this.#worker!;
    this.#worker = undefined;
    worker.off('message', this.#onMessage);
    worker.off('error', this.#onError);
    worker.off('exit', this.#onExit);
    this.#threads!.keep(worker);
  }

  #send(message: ToEncoder): void {
    if (!this.#exited) this.#worker?.postMessage(message);
  }

  #receive(message: FromEncoder): void {
    if (this.destroyed) return;
    switch (message.type) {
      case 'chunk':
        this.#outstanding--;
        this.rowsSoFar = message.rows;
        // A copy of our own: the worker's buffer goes back to it to be filled again.
        this.push(Buffer.from(new Uint8Array(message.bytes, 0, message.length)));
        this.#returned.push(message.bytes);
        releaseYoungBuffers(message.length);
        return;
      case 'json':
        this.#outstanding--;
        this.rowsSoFar = message.rows;
        // Encoded here while the worker reads the next page; SQLite's buffer is left to the collector.
        this.push(Buffer.from(this.#jsonRows().transcode(new Uint8Array(message.bytes, 0, message.length))));
        releaseYoungBuffers(message.length);
        return;
      case 'end':
        this.rowCount = message.rowCount;
        if (this.#job.more && this.#threads) this.#handOver();
        this.push(null);
        return;
      case 'error':
        this.destroy(new SluiceError(message.code, message.message));
        return;
      case 'opened':
      case 'begun':
        // The snapshot handshake of a parallel export's part (see EncoderJob.snapshot).
        this.emit(message.type);
        return;
      case 'counted':
        this.emit('counted', message.rows);
    }
  }

  /** A later part of a parallel XLSX export: its rows start after `rows` data rows (see EncoderJob.count). */
  startAfter(rows: number): void {
    this.#send({ type: 'offset', rows });
  }

  /** A part of a parallel export: begin the read transaction now (answered by 'begun'). */
  beginSnapshot(): void {
    this.#send({ type: 'begin' });
  }

  override _read(): void {
    if (this.rowCount !== undefined) return;
    const credits = WINDOW - this.#outstanding;
    if (credits <= 0) return;
    this.#outstanding += credits;
    const buffers = this.#returned;
    this.#returned = [];
    if (!this.#exited) this.#worker?.postMessage({ type: 'credit', credits, buffers } satisfies ToEncoder, buffers);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const worker = this.#worker;
    // After the end the worker has closed its connection and is exiting on its own.
    if (!worker || this.#exited || this.rowCount !== undefined) return callback(error);
    this.#send({ type: 'stop' });
    const timer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    worker.once('exit', () => {
      clearTimeout(timer);
      callback(error);
    });
  }
}
