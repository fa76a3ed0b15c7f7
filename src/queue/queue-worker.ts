import type PgBoss from 'pg-boss';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../core/database.ts';
import { defaultOutputPath } from '../core/describe.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type ParamValues, parseParams } from '../core/params.ts';
import type { Pipeline } from '../core/define.ts';
import { type PipelineSet, pipelineNamed } from '../core/registry.ts';
import { OpenDatabases } from '../db/open-databases.ts';
import type { PostgresOptions } from '../db/postgres-options.ts';
import { resolveDatabaseUrl } from '../db/url.ts';
import type { SluiceMetrics } from '../metrics/prometheus.ts';
import type { LiveRuns } from '../ops/live-runs.ts';
import { newRunId } from '../ops/run-id.ts';
import type { DrainResult, Drainable } from '../ops/shutdown.ts';
import { partitionJobName } from '../ops/run-history.ts';
import { recordedWork, trackedRun } from '../ops/tracked-run.ts';
import { checkOutputPath, outputForPath } from '../sinks/file-output.ts';
import { openDatabase } from '../db/open.ts';
import type { PartitionJob, PartitionResult } from './partition-job.ts';
import { runPartitioned } from './partitioned-run.ts';
import { PARTITION_QUEUE, type QueuedRun, type QueuedRunResult, RUN_QUEUE, type RunQueue } from './run-queue.ts';
import { groupDigits } from '../core/group-digits.ts';

/** A run stops this long before pg-boss would expire its job, so a retry never writes beside it. */
const EXPIRY_MARGIN_MS = 2000;

export interface QueueWorkerOptions {
  readonly queue: RunQueue;
  readonly pipelines: PipelineSet;
  /** The database of jobs that name none. */
  readonly defaultDatabase: string | undefined;
  readonly databaseOptions?: PostgresOptions;
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics?: SluiceMetrics;
  readonly history?: boolean;
  readonly live?: LiveRuns;
  /** Seconds between polls of an empty queue (default 1). */
  readonly pollSeconds?: number;
}

/**
 * Errors that another attempt cannot change (bad parameters, no rows, a refused precondition):
 * the job ends with them instead of being retried. Exit codes 2 and 3 are exactly those.
 */
function isFinal(error: SluiceError): boolean {
  // A partition already had its retries: running the whole run again would repeat them all.
  return error.exitCode === 2 || error.exitCode === 3 || error.code === 'LOCKED' || error.code === 'PARTITION_FAILED';
}

/** How a final error ends the job. */
function finalStatus(error: SluiceError): QueuedRunResult['status'] {
  if (error.code === 'LOCKED') return 'skipped';
  return error.summary?.status ?? (error.exitCode === 3 ? 'refused' : 'failed');
}

/**
 * Takes runs from the queue and runs them with the same engine as `sluice run`, up to
 * `concurrency` at once. A run that fails for a reason a retry may cure (a database gone, a
 * worker stopping) fails its job, which pg-boss retries on any worker; one that cannot succeed
 * completes with its error.
 */
export class QueueWorker implements Drainable {
  readonly #options: QueueWorkerOptions;
  readonly #running = new Map<string, { readonly abort: AbortController; readonly done: Promise<unknown> }>();
  readonly #databases: OpenDatabases;
  /** Ends a drain's wait at once (a second signal). */
  readonly #now = new AbortController();
  #drained: Promise<DrainResult> | undefined;

  constructor(options: QueueWorkerOptions) {
    this.#options = options;
    this.#databases = new OpenDatabases(options.databaseOptions);
  }

  get running(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    const { boss } = this.#options.queue;
    const options = { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.#options.pollSeconds ?? 1 } as const;
    for (let i = 0; i < this.#options.concurrency; i++) {
      await boss.work<QueuedRun>(RUN_QUEUE, options, ([job]) => this.#track(job!, (stop) => this.#run(job!, stop)));
      // Partitions have slots of their own: a coordinator waiting on its partitions never keeps them from running.
      // pg-boss's shortest poll: a run's partitions are taken one poll apart on each slot.
      await boss.work<PartitionJob>(PARTITION_QUEUE, { ...options, pollingIntervalSeconds: 0.5 }, ([job]) => this.#track(job!, (stop) => this.#runPartition(job!, stop)));
    }
  }

  #track<T>(job: PgBoss.JobWithMetadata<unknown>, work: (stop: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const done = work(abort.signal).finally(() => this.#running.delete(job.id));
    this.#running.set(job.id, { abort, done });
    return done;
  }

  /** Aborts a run shortly before pg-boss would expire its job, so a retry never writes beside it; returns the timer's stop. */
  #expiry(job: PgBoss.JobWithMetadata<unknown>): { readonly signal: AbortSignal; readonly clear: () => void } {
    const expiry = new AbortController();
    const timer = setTimeout(
      () => expiry.abort(new SluiceError('TIMEOUT', `The job ran into its expiry (${job.expireInSeconds} s); the queue retries it.`)),
      Math.max(job.expireInSeconds * 1000 - EXPIRY_MARGIN_MS, 1000),
    );
    return { signal: expiry.signal, clear: () => clearTimeout(timer) };
  }

  async #run(job: PgBoss.JobWithMetadata<QueuedRun>, stop: AbortSignal): Promise<QueuedRunResult> {
    const { logger, metrics } = this.#options;
    const runId = newRunId();
    const attempt = job.retryCount + 1;
    const log = logger.child({ job: job.id, runId, attempt });
    const expiry = this.#expiry(job);
    const data = job.data;
    try {
      const pipeline = pipelineNamed(this.#options.pipelines, data.pipeline);
      const params = parseParams(pipeline.allParams, data.params);
      const out = pipeline.sink.type === 'encoder' ? (data.out ?? defaultOutputPath(pipeline)) : undefined;
      if (out) checkOutputPath(out, 'the job\'s "out"');
      log.info({ pipeline: pipeline.name, params, out }, `job ${job.id}: ${pipeline.name} (attempt ${attempt})`);
      if ((data.partitions ?? 1) > 1) return await this.#coordinate(job, { pipeline, params, out, runId, log, signal: AbortSignal.any([stop, expiry.signal]) });
      metrics?.runStarted(pipeline.name);
      try {
        const summary = await trackedRun(
          pipeline,
          { params, database: this.#database(data.db, pipeline.createsDatabase === true), output: out ? outputForPath(out) : undefined, signal: AbortSignal.any([stop, expiry.signal]), logger: log },
          {
            trigger: 'worker',
            who: data.submittedBy,
            job: data.job ?? `queue:${job.id}`,
            attempt,
            runId,
            history: this.#options.history,
            live: this.#options.live,
            ...(data.lock === undefined ? {} : { lock: { name: data.lock } }),
          },
        );
        metrics?.runEnded(pipeline.name, summary);
        if (data.job !== undefined) {
          metrics?.jobSucceeded(data.job, new Date());
          metrics?.jobFinished(data.job, 'succeeded');
        }
        log.info({ summary }, `job ${job.id}: ${groupDigits(summary.rows)} rows${out ? ` -> ${out}` : ''}`);
        return { runId, status: 'succeeded', rows: summary.rows, bytes: summary.bytesWritten, ...(out ? { output: out } : {}) };
      } catch (error) {
        const failure = toSluiceError(error);
        if (failure.code === 'LOCKED') metrics?.runSkipped(pipeline.name);
        else metrics?.runEnded(pipeline.name, failure.summary, failure.code);
        if (data.job !== undefined) metrics?.jobFinished(data.job, finalStatus(failure));
        throw failure;
      }
    } catch (error) {
      const failure = toSluiceError(error);
      if (!isFinal(failure)) {
        log.error({ err: failure }, `job ${job.id} failed (attempt ${attempt}): ${failure.message}`);
        throw failure;
      }
      const status = finalStatus(failure);
      log.warn({ code: failure.code }, `job ${job.id} ${status}: ${failure.message}`);
      return { runId, status, rows: failure.summary?.rows ?? 0, bytes: failure.summary?.bytesWritten ?? 0, error: { code: failure.code, message: failure.message } };
    } finally {
      expiry.clear();
    }
  }

  /**
   * A partitioned run's coordinator (see partitioned-run.ts), recorded in the history as the run,
   * under the scheduled job's lock when it has one (its partitions need none: the lock is held
   * until the last of them has ended).
   */
  async #coordinate(job: PgBoss.JobWithMetadata<QueuedRun>, run: { pipeline: Pipeline; params: ParamValues; out: string | undefined; runId: string; log: Logger; signal: AbortSignal }): Promise<QueuedRunResult> {
    const { pipeline, params, out, runId, log, signal } = run;
    const data = job.data;
    const attempt = job.retryCount + 1;
    const url = resolveDatabaseUrl(data.db, this.#options.defaultDatabase);
    const jobs = { retries: job.retryLimit, expireSeconds: data.partitionExpireSeconds ?? job.expireInSeconds };
    let progress = { rows: 0, bytes: 0 };
    const start = { id: runId, pipeline: pipeline.name, params: { ...params }, trigger: 'worker' as const, job: data.job ?? `queue:${job.id}`, attempt, who: data.submittedBy, output: out };
    const lock = data.lock === undefined ? undefined : { name: data.lock };
    const done = await recordedWork(this.#database(data.db, false), start, { logger: log, history: this.#options.history, lock, progress: () => progress }, (lost) =>
      runPartitioned({
        queue: this.#options.queue,
        pipeline,
        submitted: data,
        params,
        url,
        databaseOptions: this.#options.databaseOptions,
        out,
        runId,
        job: { id: job.id, attempt },
        jobs,
        signal: lost ? AbortSignal.any([signal, lost]) : signal,
        logger: log,
        onProgress: (p) => (progress = p),
      }),
    );
    log.info({ partitions: done.partitions.length }, `job ${job.id}: ${groupDigits(done.rows)} rows in ${done.partitions.length} partitions${out ? ` -> ${out}` : ''}`);
    return { runId, status: 'succeeded', rows: done.rows, bytes: done.bytes, ...(out ? { output: out } : {}), partitions: done.partitions };
  }

  /** One partition of a partitioned run: its slice, in the run's snapshot, into its part file. */
  async #runPartition(job: PgBoss.JobWithMetadata<PartitionJob>, stop: AbortSignal): Promise<PartitionResult> {
    const data = job.data;
    const attempt = job.retryCount + 1;
    const log = this.#options.logger.child({ job: job.id, runId: data.runId, partition: data.index + 1, attempt });
    const expiry = this.#expiry(job);
    const database = openDatabase(data.db, { ...this.#options.databaseOptions, ...(data.snapshot ? { snapshot: data.snapshot } : {}), maxConnections: 2 });
    try {
      const pipeline = pipelineNamed(this.#options.pipelines, data.pipeline);
      const params = parseParams(pipeline.allParams, data.params);
      const partition = { slice: data.slice, index: data.index, of: data.of, runStartedAt: data.startedAt };
      const summary = await trackedRun(
        pipeline,
        { params, database, output: data.out ? outputForPath(data.out) : undefined, partition, signal: AbortSignal.any([stop, expiry.signal]), logger: log },
        { trigger: 'worker', who: data.submittedBy, job: partitionJobName(data.runId, data.index, data.of), attempt, history: this.#options.history, live: this.#options.live },
      );
      log.info(`partition ${data.index + 1}/${data.of} of run ${data.runId}: ${groupDigits(summary.rows)} rows`);
      return { runId: data.runId, rows: summary.rows, bytes: summary.bytesWritten };
    } catch (error) {
      const failure = toSluiceError(error);
      log.error({ err: failure }, `partition ${data.index + 1}/${data.of} of run ${data.runId} failed (attempt ${attempt}): ${failure.message}`);
      throw failure;
    } finally {
      expiry.clear();
      await database.close();
    }
  }

  /** The job's database; a pipeline that creates its database (seed-tickets) may create a SQLite file, as under `sluice run`. */
  #database(url: string | undefined, create: boolean): Database {
    return this.#databases.get(resolveDatabaseUrl(url, this.#options.defaultDatabase), { create });
  }

  /**
   * Takes no new job, lets running ones finish for up to `timeoutMs`, then aborts them: their jobs
   * fail back to the queue and another worker retries them. Closes the queue and the databases.
   */
  drain(timeoutMs: number): Promise<DrainResult> {
    if (this.#drained) {
      if (timeoutMs === 0) this.#now.abort();
      return this.#drained;
    }
    this.#drained = this.#drain(timeoutMs);
    return this.#drained;
  }

  async #drain(timeoutMs: number): Promise<DrainResult> {
    await this.#options.queue.boss.offWork(RUN_QUEUE);
    await this.#options.queue.boss.offWork(PARTITION_QUEUE);
    const running = [...this.#running.values()];
    const finished = await Promise.race([
      Promise.allSettled(running.map((r) => r.done)).then(() => true),
      sleep(timeoutMs, false, { signal: this.#now.signal }).catch(() => false),
    ]);
    this.#now.abort();
    const aborted = finished ? 0 : this.#running.size;
    if (!finished) {
      for (const run of this.#running.values()) run.abort.abort(new SluiceError('ABORTED', 'The worker is shutting down; the queue retries the job.'));
      await Promise.allSettled(running.map((r) => r.done));
    }
    // pg-boss records the failures (and so the retries) as the handlers return; give it the moment it needs.
    await this.#options.queue.close(2000);
    await this.#databases.closeAll();
    return { finished: running.length - aborted, aborted };
  }
}
