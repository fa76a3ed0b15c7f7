import type { Worker } from 'node:worker_threads';
import type { CopyQuery } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import { EncoderThreadReader, startEncoderThread, workerUrl } from './encoder-thread-reader.ts';
import type { CopyThreadData, ToCopyThread } from './postgres-copy-protocol.ts';

/**
 * A part of a parallel PostgreSQL export read and encoded in a worker thread of its own
 * (postgres-copy-worker.ts; the flow of chunks is encoder-thread-reader.ts's). The thread
 * connects as soon as the reader is made ('opened'); `begin` starts its COPY in the exported
 * snapshot ('begun' once imported).
 */
export class PostgresThreadReader extends EncoderThreadReader<ToCopyThread> {
  readonly #data: CopyThreadData;

  constructor(data: CopyThreadData) {
    super(data.label);
    this.#data = data;
  }

  protected openThread(): Worker {
    return startEncoderThread(workerUrl('postgres-copy-worker'), this.#data);
  }

  protected receiveOther(message: never): void {
    this.destroy(new SluiceError('INTERNAL', `The PostgreSQL reader thread sent an unknown message: ${JSON.stringify(message)}`));
  }

  begin(query: CopyQuery, snapshot: string): void {
    this.send({ type: 'begin', query, snapshot });
  }
}
