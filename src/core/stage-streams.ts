// The small streams a run puts between its stages: counters, the transform chain, cleanup.
import { type Readable, Transform, type Writable } from 'node:stream';
import chain, { none } from 'stream-chain';
import type { RunMetrics } from './metrics.ts';
import type { Batch, BatchFn, EncodedStream, SqlEncoding } from './types.ts';

export function meter(onBatch: (rows: number) => void): Transform {
  return new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(batch: Batch, _encoding, callback) {
      onBatch(batch.length);
      callback(null, batch);
    },
  });
}

export function byteMeter(onBytes: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}

/** Joins the transform functions into one stream; each counts the rows it passes on. */
export function transformChain(fns: readonly BatchFn[], metrics: RunMetrics): Readable & Writable {
  const metered = fns.map((fn, i) => (batch: Batch) => {
    const out = fn(batch);
    metrics.recordBatch(i + 1, out.length);
    return out.length > 0 ? out : none;
  });
  return chain(metered, { writableObjectMode: true, readableObjectMode: true }) as unknown as Readable & Writable;
}

/**
 * Resolves once every stream has closed. `stream.pipeline` settles as soon as it has an error,
 * while `_destroy` hooks (removing a part file, releasing a connection) may still be running:
 * a caller must not see the failure before the cleanup is done.
 */
export function allClosed(streams: ReadonlyArray<Readable | Writable>, timeoutMs = 10_000): Promise<void> {
  const closing = streams.map((stream) => (stream.closed ? undefined : new Promise<void>((resolve) => stream.once('close', () => resolve()))));
  for (const stream of streams) if (!stream.destroyed) stream.destroy();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()));
  return Promise.race([Promise.all(closing), timeout]).then(() => clearTimeout(timer));
}

/**
 * Adds the preamble (BOM) and counts rows by line ends (a sheet's by row ends) as bytes pass,
 * for progress; the database's exact count replaces the estimate at the end (a CSV value may
 * hold a line break, a sheet's row end may straddle two chunks).
 */
export function encodedMeter(encoded: EncodedStream, encoding: SqlEncoding, metrics: RunMetrics): Transform {
  const text = encoding.format === 'xlsx-sheet' ? undefined : encoding;
  const rowEnd = text ? 10 : '</row>';
  const preamble = text?.preamble ?? '';
  let lines = text?.header ? -1 : 0;
  let counted = 0;
  let started = false;
  const record = (rows: number) => {
    counted += rows;
    if (rows !== 0) metrics.recordBatch(0, rows);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!started && preamble) this.push(preamble);
      started = true;
      if (encoded.rowsSoFar !== undefined) lines = encoded.rowsSoFar;
      else for (let at = chunk.indexOf(rowEnd); at !== -1; at = chunk.indexOf(rowEnd, at + 1)) lines++;
      record(Math.max(lines, 0) - counted);
      callback(null, chunk);
    },
    flush(callback) {
      if (!started && preamble) this.push(preamble);
      record((encoded.rowCount ?? counted) - counted);
      callback();
    },
  });
}
