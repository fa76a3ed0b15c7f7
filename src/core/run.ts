import { tmpdir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { Logger } from 'pino';
import { type CheckpointOptions, databaseIdentity, identityParams, notResumable } from './checkpoints.ts';
import type { Database } from './database.ts';
import type { Pipeline } from './define.ts';
import { DeferredOutput } from './deferred-output.ts';
import { SluiceError, toSluiceError } from './errors.ts';
import { holdHeapTrim } from './heap.ts';
import { InPlaceUpdate } from './in-place.ts';
import { silentLogger } from './logger.ts';
import { RunMetrics, type RunSummary } from './metrics.ts';
import type { Output } from './output.ts';
import type { Input } from './input.ts';
import { type Rejection, type RejectsOptions, RunRejects } from './rejects.ts';
import { type ParamSpecs, type RunParams, parseParams } from './params.ts';
import { reportProgress } from './progress.ts';
import { type SlicedExport, sliceStages, writeSlices } from './sliced-export.ts';
import { allClosed, byteMeter, encodedMeter, meter, transformChain } from './stage-streams.ts';
import type { BatchFn, Columns, EncodedStream, EncoderSinkSpec, KeySlice, KeysetPlan, Partition, SliceReader, SqlEncoding, StageContext } from './types.ts';

/** Opens a database by URL, for a run given one: the front end decides how (src/db/open.ts in practice). */
export type DatabaseOpener = (url: string, options: { readonly create?: boolean }) => Database;

export interface RunOptions<P extends ParamSpecs = ParamSpecs> {
  /** Parameter values (typed, or text for numbers and booleans as a CLI or query string gives them); validated here. */
  readonly params?: RunParams<P>;
  /** A database URL (opened with `open` and closed by the run) or an open database (left open). */
  readonly database: string | Database;
  /** How to open a database given as a URL; the public `runPipeline` supplies it. */
  readonly open?: DatabaseOpener;
  /** Required by pipelines whose sink is an encoder. */
  readonly output?: Output;
  /** The bytes a file source reads (an import): a file, stdin, a request body. */
  readonly input?: Input;
  /** Where an import's rejected rows go, and how many it may reject before it stops (exit 3). */
  readonly rejects?: RejectsOptions;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** A terminal gets a progress bar; otherwise progress is logged every 10,000 rows. */
  readonly progressTty?: NodeJS.WriteStream;
  /**
   * Let the database do the work where it can (default true; tests compare both paths): encode
   * the output itself (COPY), or apply an update pipeline in place (see in-place.ts).
   */
  readonly inDatabase?: boolean;
  /** Called once the run has passed validation and pre-checks, just before output opens. */
  readonly onStart?: (info: { readonly expectedRows: number | undefined }) => void;
  /** Called every `progressIntervalMs` while the run moves data (a long export's live progress). */
  readonly onProgress?: (progress: RunProgress) => void;
  /** Default 1000. */
  readonly progressIntervalMs?: number;
  /**
   * Readers for a file export without transforms (default 1): key ranges of one snapshot, read
   * in parallel and written in key order, byte-identical to one reader. See src/db/parallel-export.ts.
   */
  readonly parallel?: number;
  /**
   * Write a file export in slices with a checkpoint after each, so that a crashed run can be
   * resumed (see checkpoints.ts); applies where the pipeline and the output allow it.
   */
  readonly checkpoints?: CheckpointOptions;
  /**
   * Write only this slice of the export (one partition of a partitioned run, see
   * src/queue/partitioned-run.ts): the preamble and header only when `first`, and an empty
   * slice is not a failure. See `PartitionPlanner` for the slices.
   */
  readonly partition?: Partition;
}

/** A running run's figures so far. */
export interface RunProgress {
  readonly pipeline: string;
  /** Rows that reached the sink (a database-encoded export counts its rows when it ends; its bytes move meanwhile). */
  readonly rows: number;
  readonly bytesWritten: number;
  /** Rows the source expects to yield, when known. */
  readonly expectedRows: number | undefined;
  readonly elapsedMs: number;
  readonly rowsPerSecond: number;
}

function progressOf(metrics: RunMetrics): RunProgress {
  const elapsedMs = Math.round(metrics.durationMs);
  return {
    pipeline: metrics.pipeline,
    rows: metrics.rows,
    bytesWritten: metrics.bytesWritten,
    expectedRows: metrics.expectedRows,
    elapsedMs,
    rowsPerSecond: elapsedMs > 0 ? Math.round((metrics.rows * 1000) / elapsedMs) : 0,
  };
}

/** Calls `onProgress` on a timer (not per batch: it must cost nothing per row); returns its stop. */
function watchProgress(metrics: RunMetrics, options: RunOptions): () => void {
  const { onProgress } = options;
  if (!onProgress) return () => undefined;
  const timer = setInterval(() => onProgress(progressOf(metrics)), options.progressIntervalMs ?? 1000).unref();
  return () => clearInterval(timer);
}

export interface RunResult extends RunSummary {
  readonly status: 'succeeded';
}

class Run {
  readonly metrics: RunMetrics;
  readonly logger: Logger;
  #database: Database | undefined;
  #ownsDatabase = false;
  #rejects: RunRejects | undefined;

  constructor(
    readonly pipeline: Pipeline,
    readonly options: RunOptions,
  ) {
    this.metrics = new RunMetrics(pipeline.name);
    const base = options.logger ?? silentLogger;
    // A front end may have bound the pipeline already (the HTTP handler does): a log line names it once.
    this.logger = base.bindings().pipeline === pipeline.name ? base : base.child({ pipeline: pipeline.name });
  }

  async database(): Promise<Database> {
    if (!this.#database) {
      const given = this.options.database;
      this.#ownsDatabase = typeof given === 'string';
      this.#database = typeof given === 'string' ? this.#open(given) : given;
    }
    return this.#database;
  }

  #open(url: string): Database {
    const open = this.options.open;
    if (!open) throw new SluiceError('INVALID_DEFINITION', `The run was given a database URL but no way to open it: pass an open Database, or run it through the public runPipeline.`);
    return open(url, { create: this.pipeline.createsDatabase });
  }

  async close(): Promise<void> {
    if (this.#ownsDatabase) await this.#database?.close();
  }

  #input(): Input {
    const { input } = this.options;
    if (!input) throw new SluiceError('USAGE', `Pipeline "${this.pipeline.name}" reads a file: give it one (--in PATH, - for stdin; over HTTP, the request body).`);
    return input;
  }

  #reject(rejection: Rejection): void {
    this.#rejects ??= new RunRejects(this.metrics, this.options.rejects);
    this.#rejects.add(rejection);
  }

  context(signal: AbortSignal): StageContext {
    const params = parseParams(this.pipeline.allParams, this.options.params ?? {});
    return {
      pipeline: this.pipeline.name,
      params,
      batchSize: params.batchSize as number,
      signal,
      logger: this.logger,
      metrics: this.metrics,
      parallel: this.options.parallel ?? 1,
      spillDir: this.options.output?.spillDir ?? tmpdir(),
      startedAt: this.options.partition ? new Date(this.options.partition.runStartedAt) : new Date(),
      ...(this.options.partition ? { partition: this.options.partition } : {}),
      database: () => this.database(),
      input: () => this.#input(),
      reject: (rejection) => this.#reject(rejection),
    };
  }

  async precheck(ctx: StageContext): Promise<void> {
    this.options.output?.check?.();
    // The rejects file exists from the start: an import that rejects nothing says so with a header-only file.
    this.options.rejects?.list?.start();
    await this.pipeline.preflight?.(ctx);
    // A terminal's progress bar shows an ETA against the source's count (an upper bound when
    // transforms drop rows); anywhere else the count would be a scan for nothing.
    const { source } = this.pipeline;
    if (this.options.progressTty && source.count && this.metrics.expectedRows === undefined) this.metrics.expectedRows = await source.count(ctx);
  }

  /** The transforms opened in order, and the columns that reach the sink. */
  transforms(ctx: StageContext): { readonly columns: Columns; readonly fns: BatchFn[] } {
    let columns: Columns = this.pipeline.source.columns;
    const fns = this.pipeline.transforms.map((t) => {
      const fn = t.open(ctx, columns);
      columns = t.columns?.(columns) ?? columns;
      return fn;
    });
    return { columns, fns };
  }

  async stages(ctx: StageContext): Promise<Array<Readable | Writable>> {
    const { source, transforms, sink } = this.pipeline;
    for (const stage of [source, ...transforms, sink]) this.metrics.stage(stage.kind);
    // A writer's rows count once committed, so an interrupted run's summary says what was kept.
    if (sink.type === 'writer' && sink.countsCommitted) this.metrics.countCommitsAtSink();
    if (sink.type === 'writer' && this.options.inDatabase !== false) {
      const inPlace = await InPlaceUpdate.plan(ctx, this.pipeline);
      if (inPlace) {
        this.logger.debug('the database applies the pipeline in place, one UPDATE per page');
        return inPlace.stages(ctx, this.metrics, transforms.length + 2);
      }
    }
    const { columns, fns } = this.transforms(ctx);
    if (sink.type === 'encoder' && fns.length === 0) {
      const atSource = await this.encodedAtSource(ctx, sink, columns);
      if (atSource) {
        const { encoded, encoding } = atSource;
        const assembled = sink.assemble ? [sink.assemble(ctx, columns)] : [];
        return [encoded, encodedMeter(encoded, encoding, this.metrics), ...assembled, ...this.outputs(sink)];
      }
    }
    const head: Array<Readable | Writable> = [await source.open(ctx), meter((rows) => this.metrics.recordBatch(0, rows))];
    if (fns.length > 0) head.push(transformChain(fns, this.metrics));
    if (sink.type === 'writer') return [...head, await sink.open(ctx, columns)];
    return [...head, sink.open(ctx, columns), ...this.outputs(sink)];
  }

  /**
   * The export in slices with checkpoints, when asked for and possible: a resumable pipeline (a
   * unique ordering key, a sink that can continue a file) writing to a plain file. `--resume`
   * where it is not possible is refused, saying why.
   */
  async sliced(ctx: StageContext): Promise<SlicedExport | undefined> {
    const checkpoints = this.options.checkpoints;
    if (!checkpoints) return undefined;
    const { pipeline } = this;
    const { source, transforms, sink } = pipeline;
    const refuse = (why: string) => new SluiceError('USAGE', `Pipeline "${pipeline.name}" cannot resume: ${why}.`);
    const why = notResumable(pipeline);
    if (checkpoints.resume && why) throw refuse(`${why}; run it again without --resume`);
    if (checkpoints.resume && checkpoints.everyRows === 0) throw refuse('checkpoints are off (--checkpoint-rows 0)');
    // Parallel readers share one snapshot and write whole ranges: they take no checkpoints.
    if ((this.options.parallel ?? 1) > 1) {
      if (checkpoints.resume) throw refuse('a resumed export reads with one reader; leave out --parallel');
      this.metrics.note('checkpoints', 'off: parallel readers take none');
      return undefined;
    }
    if (why || checkpoints.everyRows === 0 || sink.type !== 'encoder' || !source.slices) return undefined;
    const db = await this.database();
    const identity = { pipeline: pipeline.name, params: identityParams(ctx.params), database: databaseIdentity(db.label), key: source.slices.key };
    const output = await this.options.output?.sliced?.(identity, checkpoints.resume);
    if (!output) {
      if (checkpoints.resume) throw refuse('only an export to a plain file can resume, not stdout, a FIFO or a device');
      return undefined;
    }
    if (output.resumed) this.logger.info({ after: output.resumed.lastKey, rows: output.resumed.rows }, `resuming after ${source.slices.key} ${output.resumed.lastKey ?? '(the start)'}, ${output.resumed.rows} rows already written`);
    for (const stage of [source, ...transforms, sink]) this.metrics.stage(stage.kind);
    const { columns, fns } = this.transforms(ctx);
    const { requireRows } = pipeline;
    return {
      ctx,
      reader: source.slices,
      sink,
      columns,
      transforms: fns,
      metrics: this.metrics,
      output,
      everyRows: checkpoints.everyRows,
      inDatabase: this.options.inDatabase !== false,
      empty: requireRows ? () => new SluiceError('NO_ROWS', requireRows.message) : undefined,
    };
  }

  /**
   * One partition's stages: a file export's slice, encoded at the source where it can be, into
   * the output; an update's pages within the slice, in place (see in-place.ts).
   */
  async partitionStages(ctx: StageContext, partition: Partition): Promise<Array<Readable | Writable>> {
    const { source, transforms, sink } = this.pipeline;
    const why = notPartitionable(this.pipeline);
    if (why) throw new SluiceError('USAGE', `Pipeline "${this.pipeline.name}" cannot run in partitions: ${why}.`);
    for (const stage of [source, ...transforms, sink]) this.metrics.stage(stage.kind);
    if (sink.type === 'writer') {
      const inPlace = await InPlaceUpdate.plan(ctx, this.pipeline);
      // No plan: the source has nothing to read this time (a dry run, nothing left to change).
      return inPlace ? inPlace.stages(ctx, this.metrics, transforms.length + 2) : [Readable.from([]), new Writable({ objectMode: true, write: (_c, _e, done) => done() })];
    }
    if (!source.slices) throw new SluiceError('INTERNAL', `Pipeline "${this.pipeline.name}" has no slices.`);
    const { columns, fns } = this.transforms(ctx);
    const job = { ctx, reader: source.slices, sink, columns, transforms: fns, metrics: this.metrics, inDatabase: this.options.inDatabase !== false };
    // The whole run checks for rows, not each partition.
    return (await sliceStages(job, partition.slice, partition.index === 0, this.outputs(sink, { requireRows: false }))).stages;
  }

  /**
   * The output, opened when its first bytes may go out; for `requireRows` only once a row has
   * reached the sink, so "no rows" means none survived the transforms, and nothing was created.
   */
  outputs(sink: EncoderSinkSpec, options: { readonly requireRows?: false } = {}): Writable[] {
    const output = this.options.output;
    if (!output) throw new SluiceError('INVALID_DEFINITION', `Pipeline "${this.pipeline.name}" writes ${sink.format.extension}: the run needs an output.`);
    const requireRows = options.requireRows === false ? undefined : this.pipeline.requireRows;
    return [
      new DeferredOutput({
        open: () => {
          const streams = output.open();
          const destination = streams.pop()!;
          return [...streams, byteMeter((bytes) => (this.metrics.bytesWritten += bytes)), destination];
        },
        ready: () => !requireRows || this.metrics.rows > 0,
        empty: () => (requireRows && this.metrics.rows === 0 ? new SluiceError('NO_ROWS', requireRows.message) : undefined),
      }),
    ];
  }

  /**
   * With no transform in between, a source that can writes the sink's bytes itself: PostgreSQL
   * with COPY (several times faster than decoding rows in JavaScript and encoding them again),
   * SQLite in a worker thread (the main thread stays free for other work). Byte-identical to
   * the row path: the tests run both.
   */
  async encodedAtSource(ctx: StageContext, sink: EncoderSinkSpec, columns: Columns): Promise<{ encoded: EncodedStream; encoding: SqlEncoding } | undefined> {
    const { source } = this.pipeline;
    if (this.options.inDatabase === false || !sink.sqlEncoding || !source.openEncoded) return undefined;
    const encoding = sink.sqlEncoding(ctx, columns);
    if (encoding.format === 'xlsx-sheet' && !source.encodesSheets) return undefined;
    const encoded = await source.openEncoded(ctx, encoding);
    if (!encoded) return undefined;
    this.logger.debug(`the source encodes the output (${encoded.encodedBy})`);
    return { encoded, encoding };
  }


}

/** How a failed run ended, for its summary (and metrics and history). */
function statusOf(error: SluiceError): RunSummary['status'] {
  if (error.code === 'ABORTED' || error.code === 'OUTPUT_CLOSED') return 'aborted';
  if (error.code === 'NO_ROWS' || error.code === 'PRECONDITION_FAILED') return 'refused';
  return 'failed';
}

/** What an abort leaves behind: nothing of a file, but a writer's committed batches stay. */
function abortedMessage(pipeline: Pipeline): string {
  return pipeline.sink.type === 'encoder'
    ? 'The run was aborted; no output was kept.'
    : 'The run was aborted; the batches committed before the abort are kept.';
}

/**
 * Runs one pipeline: validates parameters, runs the pre-checks (before any output exists),
 * joins source, transforms and sink with `stream.pipeline` and the abort signal, and returns
 * the run's metrics. On failure the error is a SluiceError carrying the metrics in `summary`.
 */
export async function runPipeline<P extends ParamSpecs>(pipeline: Pipeline<P>, options: RunOptions<P>): Promise<RunResult> {
  // Typed for the caller; the run itself handles any pipeline.
  const run = new Run(pipeline as Pipeline, options as RunOptions);
  const signal = options.signal ?? new AbortController().signal;
  const output = options.output?.description;
  let stopProgress = () => {};
  let releaseHeap = () => {};
  try {
    const ctx = run.context(signal);
    signal.throwIfAborted();
    await run.precheck(ctx);
    signal.throwIfAborted();
    options.onStart?.({ expectedRows: run.metrics.expectedRows });
    const stopReport = reportProgress(run.metrics, run.logger, options.progressTty);
    const stopWatch = watchProgress(run.metrics, options as RunOptions);
    stopProgress = () => {
      stopReport();
      stopWatch();
    };
    releaseHeap = holdHeapTrim();
    run.metrics.startSampling();
    run.logger.debug({ params: ctx.params, output }, 'run started');
    const sliced = options.partition ? undefined : await run.sliced(ctx);
    if (options.partition) {
      const stages = await run.partitionStages(ctx, options.partition);
      await pipe(stages, { signal }).finally(() => allClosed(stages));
    } else if (sliced) {
      await writeSlices(sliced).catch(async (error: unknown) => {
        await sliced.output.discard();
        throw error;
      });
    } else {
      const stages = await run.stages(ctx);
      await pipe(stages, { signal }).finally(() => allClosed(stages));
    }
    run.metrics.stop();
    return { ...run.metrics.summary('succeeded', { output }), status: 'succeeded' };
  } catch (error) {
    run.metrics.stop();
    const failure = toSluiceError(signal.aborted && !(error instanceof SluiceError) ? signal.reason ?? error : error);
    const failed = failure.code === 'ABORTED' ? new SluiceError('ABORTED', abortedMessage(pipeline), { cause: failure }) : failure;
    const status = statusOf(failed);
    failed.summary = run.metrics.summary(status, { output, error: { code: failed.code, message: failed.message } });
    throw failed;
  } finally {
    releaseHeap();
    stopProgress();
    await run.close();
  }
}

/**
 * Why a pipeline cannot run in partitions, or undefined when it can. A file export's slices must
 * join into the same bytes as one run (as a resumable export's do) and its source must plan
 * them; an update must run in place (a keyset source, at most one transform with an SQL form),
 * so that each partition's pages are whole statements over its own keys.
 */
export function notPartitionable(pipeline: Pipeline): string | undefined {
  if (pipeline.sink.type === 'writer') {
    return InPlaceUpdate.fits(pipeline) ? undefined : 'only an update that runs in place (a keyset source, at most one transform with an SQL form, an update sink) can be cut into key ranges';
  }
  const why = notResumable(pipeline);
  if (why) return why;
  return pipeline.source.slices?.plan ? undefined : 'its source cannot cut its rows into key ranges';
}

/**
 * A partitioned run's side of the engine, in the coordinator: the run's pre-checks once (an
 * update's pre-flight refuses or reports before any partition is queued), the partitions'
 * slices, and an update's `finish` once every partition has committed.
 */
export class PartitionPlanner {
  readonly #run: Run;
  readonly #ctx: StageContext;

  private constructor(run: Run, ctx: StageContext) {
    this.#run = run;
    this.#ctx = ctx;
  }

  /** `database` must be open (for an export's consistent plan: bound to the snapshot the partitions read). */
  static async open(pipeline: Pipeline, options: Pick<RunOptions, 'params' | 'logger'> & { readonly database: Database; readonly signal?: AbortSignal }): Promise<PartitionPlanner> {
    const why = notPartitionable(pipeline);
    if (why) throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" cannot run in partitions: ${why}.`);
    const run = new Run(pipeline, options);
    const ctx = run.context(options.signal ?? new AbortController().signal);
    await run.precheck(ctx);
    return new PartitionPlanner(run, ctx);
  }

  /** When the run started: every partition stamps this time. */
  get startedAt(): Date {
    return this.#ctx.startedAt;
  }

  /** A file export's partitions: at most `parts` consecutive slices of about equal row counts. */
  exportSlices(parts: number): Promise<readonly KeySlice[]> {
    return (this.#run.pipeline.source.slices as Required<SliceReader>).plan(this.#ctx, parts);
  }

  /** The rows an update pages through (to cut into key ranges), or undefined when it has nothing to do. */
  async updateKeyset(): Promise<KeysetPlan | undefined> {
    return this.#run.pipeline.source.keyset?.(this.#ctx);
  }

  /** An update's `finish` over the whole run, once every partition has committed its rows. */
  async finish(changed: number): Promise<void> {
    const { sink } = this.#run.pipeline;
    if (sink.type === 'writer') await sink.updates?.finish?.(this.#ctx, { changed, missing: 0 });
  }
}

