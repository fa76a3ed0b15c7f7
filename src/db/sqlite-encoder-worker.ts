/**
 * A worker thread that reads a SQLite query and encodes it (CSV, TSV, TXT) with sluice's own
 * encoders, sending the bytes to the thread that started it. better-sqlite3 is synchronous:
 * on the main thread a full export leaves timers and other requests (an HTTP server's
 * /healthz) waiting behind every batch; here it runs beside them. See sqlite-encoded-reader.ts.
 */
import { setPriority } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { toSluiceError } from '../core/errors.ts';
import type { Row } from '../core/types.ts';
import { type BatchEncoder, batchEncoder } from '../format/text-encoding.ts';
import { translateDbError } from './errors.ts';
import { openReader } from './sqlite-connection.ts';
import type { EncoderJob, FromEncoder, ToEncoder } from './sqlite-encoder-protocol.ts';

let job = workerData as EncoderJob;
const port = parentPort!;

/**
 * Bulk work yields to the event loop's thread: on Linux a thread's nice value is its own, so
 * under contention the main thread (an HTTP server answering /healthz) goes first, and on an
 * idle machine this thread still gets every cycle it wants. Raising one's own nice value needs
 * no privilege; where it fails nothing changes.
 */
const WORKER_NICE = 10;
try {
  setPriority(WORKER_NICE);
} catch {
  // not permitted here: the thread keeps the process's priority
}

/** Bytes a chunk holds before it is sent: fewer, larger messages, still a bounded amount in flight. */
const CHUNK_BYTES = 64 * 1024;

let connection: BetterSqlite3.Database | undefined;
let rows: IterableIterator<unknown[]> | undefined;
let credits = 0;
let rowCount = 0;
let encoder: BatchEncoder | undefined;
let header = '';
let finished = false;
/** Between jobs: credits the last reader sent after its end are not for the next job. */
let waiting = false;

/**
 * This thread's heap, trimmed as the main thread's is (src/core/heap.ts): chunks of dead text
 * pile up in the old generation otherwise. `gc` exists when the process runs with --expose-gc
 * (the CLI does); without it V8 collects as usual.
 */
const collect = (globalThis as { gc?: () => void }).gc;
const TRIM_GROWTH_BYTES = 4 * 1024 * 1024;
/** The heap and the Buffers' bytes it holds outside it (see src/core/heap.ts). */
function held(): number {
  const { used_heap_size, external_memory } = getHeapStatistics();
  return used_heap_size + external_memory;
}
let heapBaseline = held();

function trimHeap(): void {
  if (!collect || held() - heapBaseline < TRIM_GROWTH_BYTES) return;
  collect();
  heapBaseline = held();
}

function send(message: FromEncoder, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** Buffers the reader has handed back, to be written again. */
const spare: ArrayBuffer[] = [];

/**
 * Text as bytes, in a spare buffer when one is big enough, else in a new one (of its own: a
 * pooled Buffer's slab cannot be transferred). Reusing the same few buffers keeps memory flat:
 * a fresh buffer per chunk, freed later by the other thread, left tens of MB of this thread's
 * malloc arena behind.
 */
function bytesOf(text: string): { bytes: ArrayBuffer; length: number } {
  const length = Buffer.byteLength(text);
  const at = spare.findIndex((buffer) => buffer.byteLength >= length);
  const bytes = at >= 0 ? spare.splice(at, 1)[0]! : (Buffer.allocUnsafeSlow(Math.max(length, CHUNK_BYTES * 2)).buffer as ArrayBuffer);
  Buffer.from(bytes).write(text);
  return { bytes, length };
}

/** Closes the connection; the port closes on the next turn, after any message sent now. */
function close(): void {
  finished = true;
  try {
    rows?.return?.();
    connection?.close();
  } catch {
    // closing after a failure: the failure is what counts
  }
  setImmediate(() => port.close());
}

/** A job ended with `more`: the connection closes, the thread waits for the next job. */
function idle(): void {
  try {
    rows?.return?.();
    connection?.close();
  } catch {
    // the rows were read to their end: nothing is left to fail
  }
  connection = undefined;
  rows = undefined;
  encoder = undefined;
  credits = 0;
  rowCount = 0;
  header = '';
  waiting = true;
}

function start(): void {
  connection ??= openReader(job.path);
  const statement = connection.prepare(job.query.text).raw(true).safeIntegers(true);
  rows = statement.iterate(...job.query.values) as IterableIterator<unknown[]>;
  encoder = batchEncoder(job.encoding, job.columns);
  header = encoder.header;
}

/** Sends chunks while the reader has credit for them; the last one says how many rows there were. */
function pump(): void {
  const { encode } = encoder!;
  while (credits > 0 && !finished) {
    let text = header;
    header = '';
    let ended = false;
    while (text.length < CHUNK_BYTES) {
      const batch: Row[] = [];
      for (let i = 0; i < job.batchSize; i++) {
        const next = rows!.next();
        if (next.done) {
          ended = true;
          break;
        }
        // Integers stay BigInts: the encoders write them exactly, whatever their size.
        batch.push(next.value as Row);
      }
      rowCount += batch.length;
      if (batch.length > 0) text += encode(batch);
      if (ended) break;
    }
    credits--;
    const { bytes, length } = bytesOf(text);
    send({ type: 'chunk', bytes, length, rows: rowCount }, [bytes]);
    trimHeap();
    if (ended) {
      // The connection closes before the reader hears of the end: by then nothing is held.
      const count = rowCount;
      if (job.more) idle();
      else close();
      send({ type: 'end', rowCount: count });
      return;
    }
  }
}

function fail(error: unknown): void {
  const failure = toSluiceError(translateDbError(error, job.label));
  close();
  send({ type: 'error', code: failure.code, message: failure.message });
}

/** A WAL read transaction takes its snapshot at its first read, not at BEGIN: read the schema now. */
function beginSnapshot(): void {
  connection!.exec('BEGIN');
  connection!.prepare('SELECT count(*) FROM sqlite_schema').get();
  begun = true;
  send({ type: 'begun' });
  if (credits > 0) {
    start();
    pump();
  }
}

/** A part reads nothing before its snapshot is taken: credits wait for it. */
let begun = !job.snapshot;
if (job.snapshot) {
  try {
    connection = openReader(job.path);
    send({ type: 'opened' });
  } catch (error) {
    fail(error);
  }
}

port.on('message', (message: ToEncoder) => {
  if (finished) return;
  if (message.type === 'stop') return close();
  if (message.type === 'job') {
    job = message.job;
    waiting = false;
    begun = !job.snapshot;
    return;
  }
  try {
    if (message.type === 'begin') return beginSnapshot();
    spare.push(...message.buffers);
    if (waiting) return;
    credits += message.credits;
    if (!begun) return;
    if (!rows) start();
    pump();
  } catch (error) {
    fail(error);
  }
});
