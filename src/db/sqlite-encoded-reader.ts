import type { Worker } from 'node:worker_threads';
import { SluiceError } from '../core/errors.ts';
import { JsonRowsTranscoder } from '../format/json-rows.ts';
import { EncoderThreadReader, startEncoderThread, workerUrl } from './encoder-thread-reader.ts';
import type { FromEncoderThread } from './encoder-thread-protocol.ts';
import type { EncoderJob, FromEncoder, ToEncoder } from './sqlite-encoder-protocol.ts';

/** Where a reader whose job said `more` leaves its thread, and the next reader takes it (see SqliteDatabase). */
export interface EncoderThreads {
  take(): Worker | undefined;
  keep(worker: Worker): void;
}

/**
 * The encoded bytes of a SQLite query, read and encoded in a worker thread (see
 * sqlite-encoder-worker.ts and, for the flow of chunks, encoder-thread-reader.ts). JSON pages
 * the thread sends are encoded here, while it reads the next.
 */
export class SqliteEncodedReader extends EncoderThreadReader<ToEncoder, FromEncoder> {
  readonly #job: EncoderJob;
  readonly #threads: EncoderThreads | undefined;
  #transcoder: JsonRowsTranscoder | undefined;

  constructor(job: EncoderJob, threads?: EncoderThreads) {
    super(job.label);
    this.#job = job;
    this.#threads = threads;
  }

  protected openThread(): Worker {
    // A thread kept from the export's previous slice: starting one costs more than a slice of thousands of rows.
    const kept = this.#threads?.take();
    if (!kept) return startEncoderThread(workerUrl('sqlite-encoder-worker'), this.#job);
    kept.postMessage({ type: 'job', job: this.#job } satisfies ToEncoder);
    return kept;
  }

  /** After a job that said `more`: the thread, idle, goes to the next slice's reader. */
  protected override ended(): void {
    if (this.#job.more && this.#threads) this.#threads.keep(this.releaseThread());
  }

  #jsonRows(): JsonRowsTranscoder {
    const { encoding, columns } = this.#job;
    if (encoding.format === 'xlsx-sheet') throw new SluiceError('INTERNAL', 'The SQLite reader thread sent JSON rows for an XLSX sheet.');
    return (this.#transcoder ??= new JsonRowsTranscoder(columns, encoding));
  }

  protected receiveOther(message: Exclude<FromEncoder, FromEncoderThread>): void {
    if (message.type === 'counted') {
      this.emit('counted', message.rows);
      return;
    }
    // Encoded here while the thread reads the next page; SQLite's buffer is left to the collector.
    this.pushBytes(Buffer.from(this.#jsonRows().transcode(new Uint8Array(message.bytes, 0, message.length))), message.rows);
  }

  /** A later part of a parallel XLSX export: its rows start after `rows` data rows (see EncoderJob.count). */
  startAfter(rows: number): void {
    this.send({ type: 'offset', rows });
  }

  /** A part of a parallel export: begin the read transaction now (answered by 'begun'). */
  beginSnapshot(): void {
    this.send({ type: 'begin' });
  }
}
