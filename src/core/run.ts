import type { Readable, Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import { openDatabase } from '../db/open.ts';
import type { Pipeline } from './define.ts';
import { SluiceError, toSluiceError } from './errors.ts';
import { holdHeapTrim } from './heap.ts';
import { InPlaceUpdate } from './in-place.ts';
import { silentLogger } from './logger.ts';
import { RunMetrics, type RunSummary } from './metrics.ts';
import type { Output } from './output.ts';
import { parseParams } from './params.ts';
import { reportProgress } from './progress.ts';
import { allClosed, byteMeter, encodedMeter, meter, transformChain } from './stage-streams.ts';
import type { Columns, EncodedStream, EncoderSinkSpec, StageContext } from './types.ts';

export interface RunOptions {
  /** Raw parameter values (strings from a CLI or query string, or typed values); validated here. */
  readonly params?: Readonly<Record<string, unknown>>;
  /** A database URL (opened and closed by the run) or an open database (left open). */
  readonly database: string | Database;
  /** Required by pipelines whose sink is an encoder. */
  readonly output?: Output;
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
}

export interface RunResult extends RunSummary {
  readonly status: 'succeeded';
}

class Run {
  readonly metrics: RunMetrics;
  readonly logger: Logger;
  #database: Database | undefined;
  #ownsDatabase = false;

  constructor(
    readonly pipeline: Pipeline,
    readonly options: RunOptions,
  ) {
    this.metrics = new RunMetrics(pipeline.name);
    this.logger = (options.logger ?? silentLogger).child({ pipeline: pipeline.name });
  }

  async database(): Promise<Database> {
    if (!this.#database) {
      const given = this.options.database;
      this.#ownsDatabase = typeof given === 'string';
      this.#database = typeof given === 'string' ? openDatabase(given, { create: this.pipeline.createsDatabase }) : given;
    }
    return this.#database;
  }

  async close(): Promise<void> {
    if (this.#ownsDatabase) await this.#database?.close();
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
      database: () => this.database(),
    };
  }

  async precheck(ctx: StageContext): Promise<void> {
    await this.pipeline.preflight?.(ctx);
    if (!this.pipeline.requireRows) return;
    // A full count costs a scan of the matches; only a progress bar's ETA needs more than one.
    const wantTotal = this.options.progressTty !== undefined;
    const count = await this.pipeline.source.count!(ctx, wantTotal ? undefined : 1);
    if (wantTotal) this.metrics.expectedRows = count;
    if (count === 0) throw new SluiceError('NO_ROWS', this.pipeline.requireRows.message);
  }

  async stages(ctx: StageContext): Promise<Array<Readable | Writable>> {
    const { source, transforms, sink } = this.pipeline;
    for (const stage of [source, ...transforms, sink]) this.metrics.stage(stage.kind);
    if (sink.type === 'writer' && this.options.inDatabase !== false) {
      const inPlace = await InPlaceUpdate.plan(ctx, this.pipeline);
      if (inPlace) {
        this.logger.debug('the database applies the pipeline in place, one UPDATE per page');
        return inPlace.stages(ctx, this.metrics, transforms.length + 2);
      }
    }
    let columns: Columns = source.columns;
    const fns = transforms.map((t) => {
      const fn = t.open(ctx, columns);
      columns = t.columns?.(columns) ?? columns;
      return fn;
    });
    if (sink.type === 'encoder' && fns.length === 0) {
      const encoded = await this.encodedByDatabase(ctx, sink, columns);
      if (encoded) return [encoded, encodedMeter(encoded, sink.sqlEncoding!(ctx, columns), this.metrics), ...this.outputs(sink)];
    }
    const head: Array<Readable | Writable> = [await source.open(ctx), meter((rows) => this.metrics.recordBatch(0, rows))];
    if (fns.length > 0) head.push(transformChain(fns, this.metrics));
    if (sink.type === 'writer') return [...head, await sink.open(ctx, columns)];
    return [...head, sink.open(ctx, columns), ...this.outputs(sink)];
  }

  /** The output's streams, with a byte counter before the destination. */
  outputs(sink: EncoderSinkSpec): Writable[] {
    if (!this.options.output) throw new SluiceError('INVALID_DEFINITION', `Pipeline "${this.pipeline.name}" writes ${sink.format.extension}: the run needs an output.`);
    const streams = this.options.output.open();
    const destination = streams.pop()!;
    return [...streams, byteMeter((bytes) => (this.metrics.bytesWritten += bytes)), destination];
  }

  /**
   * With no transform in between, a source that can (PostgreSQL) writes the sink's bytes itself
   * with COPY: several times faster than decoding rows in JavaScript and encoding them again,
   * and byte-identical (the tests run both paths).
   */
  async encodedByDatabase(ctx: StageContext, sink: EncoderSinkSpec, columns: Columns): Promise<EncodedStream | undefined> {
    const { source } = this.pipeline;
    if (this.options.inDatabase === false || !sink.sqlEncoding || !source.openEncoded) return undefined;
    const encoded = await source.openEncoded(ctx, sink.sqlEncoding(ctx, columns));
    if (encoded) this.logger.debug('the database encodes the output (COPY)');
    return encoded;
  }


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
export async function runPipeline(pipeline: Pipeline, options: RunOptions): Promise<RunResult> {
  const run = new Run(pipeline, options);
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
    stopProgress = reportProgress(run.metrics, run.logger, options.progressTty);
    releaseHeap = holdHeapTrim();
    run.metrics.startSampling();
    run.logger.debug({ params: ctx.params, output }, 'run started');
    const stages = await run.stages(ctx);
    await pipe(stages, { signal }).finally(() => allClosed(stages));
    run.metrics.stop();
    return { ...run.metrics.summary('succeeded', { output }), status: 'succeeded' };
  } catch (error) {
    run.metrics.stop();
    const failure = toSluiceError(signal.aborted && !(error instanceof SluiceError) ? signal.reason ?? error : error);
    const failed = failure.code === 'ABORTED' ? new SluiceError('ABORTED', abortedMessage(pipeline), { cause: failure }) : failure;
    const status = failed.code === 'ABORTED' || failed.code === 'OUTPUT_CLOSED' ? 'aborted' : 'failed';
    failed.summary = run.metrics.summary(status, { output, error: { code: failed.code, message: failed.message } });
    throw failed;
  } finally {
    releaseHeap();
    stopProgress();
    await run.close();
  }
}
