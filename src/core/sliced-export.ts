import type { Readable, Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { CheckpointPosition, SlicedOutput } from './checkpoints.ts';
import { SluiceError } from './errors.ts';
import type { RunMetrics } from './metrics.ts';
import { allClosed, byteMeter, encodedMeter, meter, transformChain } from './stage-streams.ts';
import type { BatchFn, Columns, EncoderSinkSpec, KeySlice, SliceReader, SqlEncoding, StageContext } from './types.ts';

export interface SlicedExport {
  readonly ctx: StageContext;
  readonly reader: SliceReader;
  readonly sink: EncoderSinkSpec;
  readonly columns: Columns;
  readonly transforms: readonly BatchFn[];
  readonly metrics: RunMetrics;
  readonly output: SlicedOutput;
  readonly everyRows: number;
  /** Let the database encode each slice (COPY, the SQLite worker) when no transform sits between. */
  readonly inDatabase: boolean;
  /** Fails the run when no row was written at all (requireRows), with this error. */
  readonly empty?: () => SluiceError;
}

/** A slice's encoding: only the first slice of the file carries the preamble and header (an XLSX file is never sliced). */
function sliceEncoding(encoding: SqlEncoding, first: boolean): SqlEncoding {
  return first || encoding.format === 'xlsx-sheet' ? encoding : { ...encoding, header: false, preamble: '' };
}

/**
 * Writes an export slice by slice in its key order, with a checkpoint at each slice's end. The
 * slices' bounds come from the data (the key of every `everyRows`-th row), so an export resumed
 * at a checkpoint cuts the rest into the same slices as one that never stopped, and writes the
 * same bytes. Each slice is a read of its own (a transaction of its own on PostgreSQL).
 */
export async function writeSlices(job: SlicedExport): Promise<void> {
  const { ctx, reader, output, everyRows } = job;
  const limit = reader.limit(ctx);
  let position: CheckpointPosition = output.resumed ?? { lastKey: undefined, rows: 0 };
  // A resume of a run that crashed before its first checkpoint starts the file over, preamble included.
  let first = position.lastKey === undefined;
  let written = 0;
  // A checkpoint (a sync, then the checkpoint file) overlaps the next slice's reading; it records
  // the length at its own slice's end, and is awaited before the next one and before the end.
  let saving: Promise<void> = output.resumed === undefined ? output.checkpoint(position) : Promise.resolve();
  const wanted = (rows: number) => (limit === undefined ? everyRows : Math.min(everyRows, limit - rows));
  let nextEnd: Promise<string | undefined> | undefined;
  try {
    for (;;) {
      const want = wanted(position.rows);
      if (want <= 0) break;
      ctx.signal.throwIfAborted();
      const through = await (nextEnd ?? reader.end(ctx, position.lastKey, want));
      nextEnd = undefined;
      // Without a limit the next slice's end is looked up while this one streams (an index scan of
      // a slice's keys: ~130 ms on PostgreSQL for 50,000). With one, the rows actually read decide it.
      if (through !== undefined && limit === undefined) {
        nextEnd = reader.end(ctx, through, everyRows);
        nextEnd.catch(() => undefined);
      }
      const rows = await writeSlice(job, { after: position.lastKey, through }, first);
      ctx.logger.debug({ after: position.lastKey, through, rows }, 'slice written');
      written += rows;
      first = false;
      // No end: fewer than `want` rows were left, and this slice took them all.
      if (through === undefined) break;
      position = { lastKey: through, rows: position.rows + rows };
      await saving;
      saving = output.checkpoint(position);
    }
    await saving;
  } finally {
    // Never let a checkpoint land after a failed run has removed its part file.
    await saving.catch(() => undefined);
    await nextEnd?.catch(() => undefined);
  }
  const total = (output.resumed?.rows ?? 0) + written;
  if (total === 0 && job.empty) throw job.empty();
  await output.commit();
}

/** One slice from the source to the file; resolves to the source rows it read. */
async function writeSlice(job: SlicedExport, slice: KeySlice, first: boolean): Promise<number> {
  const destination = job.output.slice();
  const last = destination.pop()!;
  const out = [...destination, byteMeter((bytes) => (job.metrics.bytesWritten += bytes)), last];
  const { stages, rows } = await sliceStages(job, slice, first, out);
  await pipe(stages, { signal: job.ctx.signal }).finally(() => allClosed(stages));
  return rows();
}

/** What reading and encoding one slice needs. */
export type SliceJob = Pick<SlicedExport, 'ctx' | 'reader' | 'sink' | 'columns' | 'transforms' | 'metrics' | 'inDatabase'>;

/**
 * The stages of one slice into `out`: encoded at the source when it can, else rows through the
 * transforms and the sink. Only the first slice of a file has the preamble and header. `rows`
 * tells, once the stages have run, how many source rows the slice held.
 */
export async function sliceStages(job: SliceJob, slice: KeySlice, first: boolean, out: readonly Writable[]): Promise<{ stages: Array<Readable | Writable>; rows: () => number }> {
  const { ctx, reader, sink, metrics } = job;
  const encoding = job.inDatabase && job.transforms.length === 0 && sink.sqlEncoding ? sliceEncoding(sink.sqlEncoding(ctx, job.columns), first) : undefined;
  const encoded = encoding && reader.openEncoded ? await reader.openEncoded(ctx, encoding, slice) : undefined;
  if (encoded && encoding) return { stages: [encoded, encodedMeter(encoded, encoding, metrics), ...out], rows: () => encoded.rowCount ?? 0 };
  let rows = 0;
  const head: Array<Readable | Writable> = [
    await reader.open(ctx, slice),
    meter((n) => {
      rows += n;
      metrics.recordBatch(0, n);
    }),
  ];
  if (job.transforms.length > 0) head.push(transformChain(job.transforms, metrics));
  return { stages: [...head, sink.open(ctx, job.columns, { continuing: !first }), ...out], rows: () => rows };
}
