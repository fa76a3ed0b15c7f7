/**
 * A worker thread that runs one part of a parallel PostgreSQL export: a binary COPY of its key
 * range on a connection of its own, turned into the export's bytes here (as PostgresCopyReader
 * does on the main thread), so that the parts are encoded on as many cores as there are parts.
 * The connection is opened as soon as the thread starts, while the coordinator plans the ranges.
 * See postgres-thread-reader.ts.
 */
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { toSluiceError } from '../core/errors.ts';
import type { FromEncoderThread } from './encoder-thread-protocol.ts';
import type { CopyThreadData, ToCopyThread } from './postgres-copy-protocol.ts';
import { PostgresCopyReader } from './postgres-copy-reader.ts';
import { PostgresDatabase } from './postgres.ts';
import { TransferChunk } from './transfer-chunk.ts';
import { yieldToMainThread } from './thread-priority.ts';

/** Bytes a chunk holds before it is sent: fewer, larger messages, still a bounded amount in flight. */
const CHUNK_BYTES = 64 * 1024;

yieldToMainThread();

const data = workerData as CopyThreadData;
const port = parentPort!;
const db = new PostgresDatabase(data.connectionString, data.label, data.options);
/** Buffers the reader has handed back, to be written again. */
const spare: ArrayBuffer[] = [];
let chunk = new TransferChunk(spare, CHUNK_BYTES * 2);
let reader: PostgresCopyReader | undefined;
let credits = 0;
let ended = false;
let closed = false;

function send(message: FromEncoderThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** Stops the COPY (cancelled on the server if it runs) and closes the connection. */
async function release(): Promise<void> {
  if (reader && !reader.destroyed) {
    const gone = once(reader, 'close').catch(() => undefined);
    reader.destroy();
    await gone;
  }
  await db.close().catch(() => undefined);
}

/** Releases everything, then sends `last` (if any) and closes the port, which ends the thread. */
function close(last?: FromEncoderThread): void {
  if (closed) return;
  closed = true;
  void release().then(() => {
    if (last) send(last);
    port.close();
  });
}

function fail(error: unknown): void {
  if (closed) return;
  const failure = toSluiceError(error);
  send({ type: 'error', code: failure.code, message: failure.message });
  close();
}

/** Sends the chunk once full (or at the end) against a credit; without one the COPY waits. */
function flush(): void {
  if (closed || !reader || (chunk.length < CHUNK_BYTES && !ended)) return;
  if (chunk.length > 0) {
    if (credits === 0) {
      reader.pause();
      return;
    }
    credits--;
    const { bytes, length } = chunk.take();
    send({ type: 'chunk', bytes, length, rows: reader.rowsSoFar ?? 0 }, [bytes]);
    chunk = new TransferChunk(spare, CHUNK_BYTES * 2);
  }
  if (ended) {
    // The connection closes before the reader hears of the end: by then nothing is held.
    close({ type: 'end', rowCount: reader.rowCount ?? 0 });
    return;
  }
  reader.resume();
}

function begin(message: Extract<ToCopyThread, { type: 'begin' }>): void {
  const copy = new PostgresCopyReader(db.pool, message.query, db.readerOptions(message.snapshot));
  reader = copy;
  copy.once('joined', () => send({ type: 'begun' }));
  copy.on('data', (bytes: Buffer) => {
    chunk.appendBytes(bytes);
    flush();
  });
  copy.once('end', () => {
    ended = true;
    flush();
  });
  copy.once('error', fail);
}

port.on('message', (message: ToCopyThread) => {
  if (closed) return;
  if (message.type === 'stop') return close();
  if (message.type === 'begin') return begin(message);
  spare.push(...message.buffers);
  credits += message.credits;
  flush();
});

// Connected now, while the coordinator plans: the part's COPY then starts without a connect.
db.pool.connect().then(
  (client) => {
    client.release();
    send({ type: 'opened' });
  },
  fail,
);
