/**
 * A worker thread that reads a SQLite query and encodes it (CSV, TSV, TXT, an XLSX sheet's
 * rows) with sluice's own encoders, sending the bytes to the thread that started it.
 * better-sqlite3 is synchronous: on the main thread a full export leaves timers and other
 * requests (an HTTP server's /healthz) waiting behind every batch; here it runs beside them.
 * See sqlite-encoded-reader.ts.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { toSluiceError } from '../core/errors.ts';
import { heldBytes } from '../core/heap.ts';
import type { Row, SheetEncoding } from '../core/types.ts';
import { batchEncoder } from '../format/text-encoding.ts';
import { JsonSheetTranscoder } from '../format/json-sheet.ts';
import { SheetDataEncoder, recordText } from '../format/xlsx-sheet-data.ts';
import { columnWidths } from '../format/xlsx-sheets.ts';
import { translateDbError } from './errors.ts';
import { openReader } from './sqlite-connection.ts';
import { exactIntegers } from './sqlite-integers.ts';
import { JsonPages } from './sqlite-json-pages.ts';
import { TransferChunk } from './transfer-chunk.ts';
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
/** Writes a batch into the chunk; only the text encoders' first batch has a header before it. */
type Encode = (batch: Row[], chunk: TransferChunk) => void;
/** The next message for the reader (none when the rows ended with the last) and whether the rows have ended. */
interface Produced {
  readonly message?: FromEncoder;
  readonly transfer?: ArrayBuffer[];
  readonly ended: boolean;
}
let produce: (() => Produced) | undefined;
let header = '';
/** A sheet's data rows before this part's first, once known (see SheetEncoding.firstRow). */
let firstRow: number | undefined;
let finished = false;
/** Between jobs: credits the last reader sent after its end are not for the next job. */
let waiting = false;

/**
 * This thread's heap, trimmed as the main thread's is (src/core/heap.ts, which says what is
 * counted and why): chunks of dead text pile up in the old generation otherwise. `gc` exists
 * when the process runs with --expose-gc (the CLI does); without it V8 collects as usual.
 */
const collect = (globalThis as { gc?: () => void }).gc;
const TRIM_GROWTH_BYTES = 4 * 1024 * 1024;
let heapBaseline = heldBytes();

function trimHeap(): void {
  if (!collect || heldBytes() - heapBaseline < TRIM_GROWTH_BYTES) return;
  collect();
  heapBaseline = heldBytes();
}

function send(message: FromEncoder, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** Buffers the reader has handed back, to be written again. */
const spare: ArrayBuffer[] = [];

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
  produce = undefined;
  firstRow = undefined;
  credits = 0;
  rowCount = 0;
  header = '';
  waiting = true;
}

function start(): void {
  connection ??= openReader(job.path);
  const pages = job.pages ? JsonPages.open(connection, job.pages, job.encoding.format === 'xlsx-sheet' ? sheetPageRows(job) : job.batchSize) : undefined;
  if (pages && job.encoding.format === 'xlsx-sheet') {
    produce = sheetPageProducer(pages, sheetTranscoder(job.encoding));
    return;
  }
  const encode = encoderFor(job);
  if (pages) {
    produce = pageProducer(pages, encode);
    return;
  }
  const statement = connection.prepare(job.query.text).raw(true).safeIntegers(true);
  rows = statement.iterate(...job.query.values) as IterableIterator<unknown[]>;
  produce = rowProducer(rows, encode);
}

/** A chunk to write into, the header (if not sent yet) first. */
function newChunk(): TransferChunk {
  const chunk = new TransferChunk(spare, CHUNK_BYTES * 2);
  if (header) chunk.append(header);
  header = '';
  return chunk;
}

function chunkMessage(chunk: TransferChunk, ended: boolean): Produced {
  const { bytes, length } = chunk.take();
  return { message: { type: 'chunk', bytes, length, rows: rowCount }, transfer: [bytes], ended };
}

/** Chunks of about CHUNK_BYTES, encoded from the rows' values a batch at a time. */
function rowProducer(rows: IterableIterator<unknown[]>, encodeBatch: Encode): () => Produced {
  return () => {
    const chunk = newChunk();
    let ended = false;
    while (chunk.length < CHUNK_BYTES && !ended) {
      const batch: Row[] = [];
      for (let i = 0; i < job.batchSize; i++) {
        const next = rows.next();
        if (next.done) {
          ended = true;
          break;
        }
        // Integers stay BigInts: the encoders write them exactly, whatever their size.
        batch.push(next.value as Row);
      }
      rowCount += batch.length;
      if (batch.length > 0) encodeBatch(batch, chunk);
    }
    return chunkMessage(chunk, ended);
  };
}

/**
 * Pages of JSON rows (see sqlite-json-pages.ts), sent as SQLite wrote them: the reader turns
 * them into the encoding's bytes while this thread reads the next page. A page read as values
 * is encoded here.
 */
function pageProducer(pages: JsonPages, encodeBatch: Encode): () => Produced {
  return () => {
    if (header) return chunkMessage(newChunk(), false);
    const page = pages.next();
    if (!page) return { ended: true };
    rowCount += page.rows;
    if ('values' in page) {
      const chunk = newChunk();
      encodeBatch(page.values, chunk);
      return chunkMessage(chunk, false);
    }
    const bytes = ownBuffer(page.json);
    return { message: { type: 'json', bytes, length: page.json.length, rows: rowCount }, transfer: [bytes], ended: false };
  };
}

/**
 * A sheet's rows from pages of JSON rows, encoded here (src/format/json-sheet.ts) into chunks of
 * about CHUNK_BYTES: this thread already knows where the part's rows start, and the main thread
 * zips. A page read as values is encoded from them.
 */
function sheetPageProducer(pages: JsonPages, sheet: JsonSheetTranscoder): () => Produced {
  return () => {
    const chunk = newChunk();
    let ended = false;
    while (chunk.length < CHUNK_BYTES && !ended) {
      const page = pages.next();
      if (!page) {
        chunk.appendBytes(sheet.finish());
        ended = true;
        break;
      }
      rowCount += page.rows;
      chunk.appendBytes('json' in page ? sheet.transcode(page.json) : sheet.transcodeValues(page.values.map(exactIntegers)));
    }
    return chunkMessage(chunk, ended);
  };
}

/**
 * Rows per page of a sheet: about a chunk's worth of sheet XML (~48 bytes a cell). A page's XML
 * goes out as one chunk, and pages of a whole batch (1,000 rows, ~600 KB of XML) took a
 * two-reader export from 146 to 167 MB; the column widths are still sampled from a whole batch.
 */
function sheetPageRows(job: EncoderJob): number {
  return Math.max(16, Math.min(job.batchSize, Math.ceil(CHUNK_BYTES / (48 * job.columns.length))));
}

/** The sheet transcoder of a job: it sizes the columns from the first batch unless the widths come from elsewhere. */
function sheetTranscoder(encoding: SheetEncoding): JsonSheetTranscoder {
  return new JsonSheetTranscoder(job.columns, { ...encoding, firstRow: sheetStart() }, prepareWidths(encoding) ? undefined : job.batchSize);
}

/**
 * A sheet job's column widths: the first part of a parallel export writes them now, as the
 * header, from a sample of the export's first batch; a later part (told its first row) leaves
 * them to the first; one reader's encoder sizes them by its own first batch. Returns whether the
 * encoder leaves them alone.
 */
function prepareWidths(encoding: SheetEncoding): boolean {
  const sample = job.sample;
  if (sample) header = recordText({ widths: columnWidths(job.columns, connection!.prepare(sample.text).raw(true).safeIntegers(true).all(...sample.values) as Row[]) });
  return encoding.firstRow === undefined || sample !== undefined;
}

/** The bytes in an ArrayBuffer of their own, to transfer (copied only if the Buffer shares one). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return (whole ? bytes : new Uint8Array(bytes)).buffer as ArrayBuffer;
}

function encoderFor(job: EncoderJob): Encode {
  const { encoding, columns } = job;
  if (encoding.format !== 'xlsx-sheet') {
    const text = batchEncoder(encoding, columns);
    header = text.header;
    // BLOBs become text here as in the pages' JSON (see exactIntegers), so both paths write the same bytes.
    return (batch, chunk) => {
      for (const row of batch) exactIntegers(row);
      chunk.append(text.encode(batch));
    };
  }
  const sheet = new SheetDataEncoder(columns, encoding, sheetStart(), prepareWidths(encoding));
  // Integers made numbers where a number holds them, as the main thread's reader does: the sheet's cells are the same either way.
  return (batch, chunk) => {
    for (const row of batch) exactIntegers(row);
    sheet.encode(batch, chunk);
  };
}

/** The data rows before a sheet job's first: its encoding's, or as told later (a later part); undefined until then. */
function sheetStart(): number | undefined {
  return job.encoding.format === 'xlsx-sheet' ? (job.encoding.firstRow ?? firstRow) : 0;
}

/** Reading waits for the snapshot (a parallel part) and, for a later part of a sheet, for the rows before it. */
function ready(): boolean {
  return begun && sheetStart() !== undefined;
}

/** Sends messages while the reader has credit for them, then the end with how many rows there were. */
function pump(): void {
  const next = produce!;
  while (credits > 0 && !finished) {
    const { message, transfer, ended } = next();
    if (message) {
      credits--;
      send(message, transfer);
    }
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
  if (job.count) {
    const counted = connection!.prepare(`SELECT count(*) FROM (${job.query.text})`).pluck().get(...job.query.values);
    send({ type: 'counted', rows: Number(counted) });
  }
  resume();
}

/** Starts or goes on reading, once ready and given credit. */
function resume(): void {
  if (credits === 0 || !ready()) return;
  if (!produce) start();
  pump();
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
    if (message.type === 'offset') {
      firstRow = message.rows;
      return resume();
    }
    spare.push(...message.buffers);
    if (waiting) return;
    credits += message.credits;
    resume();
  } catch (error) {
    fail(error);
  }
});
