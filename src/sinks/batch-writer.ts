import { Writable } from 'node:stream';
import type { Batch, StageContext } from '../core/types.ts';

export interface BatchWriterOptions {
  /** Commits one group of rows (one statement, one transaction); resolves once it is committed. */
  readonly commit: (batch: Batch) => Promise<void>;
  /** After the last group is committed. */
  readonly finish?: () => Promise<void>;
  /** When the stream is destroyed before it finished (an error, an abort), after the group in flight settled. */
  readonly abandon?: () => Promise<void>;
  readonly highWaterMark?: number;
  /**
   * Rows per commit, gathered from whole batches (default: each batch as it comes). While a
   * group commits the next one gathers, so reading the input and writing the database overlap;
   * at most one group is in flight.
   */
  readonly groupRows?: number;
}

/**
 * The stream side of a database writer: one group of rows committed at a time, each counted as
 * committed (RunMetrics.recordCommitted). An abort cannot take back a statement the database is
 * already running, so the stream closes only once that statement has settled: the run reports
 * after it, and its summary counts the group if it was committed.
 */
export function batchWriter(ctx: StageContext, options: BatchWriterOptions): Writable {
  const groupRows = options.groupRows ?? 0;
  let gathered: Batch = [];
  /** The last commit started: every commit waits for the one before, so groups commit in input order. */
  let inFlight: Promise<void> = Promise.resolve();
  const commitGathered = (): Promise<void> => {
    const group = gathered;
    gathered = [];
    inFlight = inFlight.then(() => options.commit(group)).then(() => ctx.metrics.recordCommitted(group.length));
    // Seen by the next write, `final` or `destroy`; not an unhandled rejection meanwhile.
    inFlight.catch(() => undefined);
    return inFlight;
  };
  return new Writable({
    objectMode: true,
    highWaterMark: options.highWaterMark ?? 1,
    write(batch: Batch, _encoding, callback) {
      if (groupRows === 0) {
        gathered = batch;
        commitGathered().then(() => callback(), callback);
        return;
      }
      for (const row of batch) gathered.push(row);
      if (gathered.length < groupRows) return callback();
      const previous = inFlight;
      void commitGathered();
      previous.then(() => callback(), callback);
    },
    final(callback) {
      const last = gathered.length > 0 ? commitGathered() : inFlight;
      last.then(() => options.finish?.()).then(() => callback(), callback);
    },
    destroy(error, callback) {
      const finished = this.writableFinished;
      void inFlight
        .catch(() => undefined)
        .then(() => (finished ? undefined : options.abandon?.()))
        .catch((failure: unknown) => ctx.logger.warn({ err: failure }, 'cleanup after an interrupted write failed'))
        .then(() => callback(error));
    },
  });
}
