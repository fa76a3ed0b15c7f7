import { setTimeout as sleep } from 'node:timers/promises';
import { Cron } from 'croner';
import type { Database } from '../core/database.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { RunSummary } from '../core/metrics.ts';
import type { JobOutcome, SkipReason } from '../metrics/prometheus.ts';
import { OpenDatabases } from '../db/open-databases.ts';
import type { PostgresOptions } from '../db/postgres-options.ts';
import { resolveDatabaseUrl } from '../db/url.ts';
import { checkOutputPath, outputForPath } from '../sinks/file-output.ts';
import type { LiveRuns } from '../ops/live-runs.ts';
import { claimFire } from '../ops/fire-claim.ts';
import { HistoryRecorder } from '../ops/history-recorder.ts';
import { HOST, newRunId, osUser } from '../ops/run-id.ts';
import { heartbeatMs, trackedRun } from '../ops/tracked-run.ts';
import type { Job, ScheduleConfig } from './config.ts';
import { enqueueJob } from './enqueue.ts';
import { expandPlaceholders } from './placeholders.ts';
import type { RunQueue } from '../queue/run-queue.ts';
import type { DrainResult, Drainable } from '../ops/shutdown.ts';
import { groupDigits } from '../core/group-digits.ts';

/** What the scheduler reports to Prometheus (SluiceMetrics implements it). */
export interface SchedulerMetrics {
  runStarted(pipeline: string): void;
  runEnded(pipeline: string, summary: RunSummary | undefined, errorCode?: string): void;
  runSkipped(pipeline: string): void;
  jobScheduled(job: string): void;
  jobSucceeded(job: string, at: Date): void;
  jobFinished(job: string, status: JobOutcome): void;
  jobSkipped(job: string, reason: SkipReason): void;
}

export interface SchedulerOptions {
  readonly config: ScheduleConfig;
  /** The database of jobs that name none: `--db`, `DATABASE_URL` or the app's. */
  readonly defaultDatabase: string | undefined;
  readonly databaseOptions?: PostgresOptions;
  readonly logger: Logger;
  readonly metrics?: SchedulerMetrics;
  /** Record runs in sluice_runs (default true). */
  readonly history?: boolean;
  readonly live?: LiveRuns;
  /** The job queue, opened on first use, for jobs `"via": "queue"`. */
  readonly queue?: () => Promise<RunQueue>;
}


/**
 * The fire croner is running: the latest time the expression matches, not the moment the
 * callback got the event loop, so every scheduler names a fire alike however late it runs.
 */
function scheduledFire(cron: Cron, now: Date = new Date()): Date {
  return cron.previousRuns(1, new Date(now.getTime() + 1))[0] ?? now;
}

/**
 * Fires each job on its cron expression (croner), never two fires of one job at once: a fire
 * while the previous run goes on, in this process or in another one holding the job's lock in
 * the same database, is skipped and recorded as skipped.
 */
export class Scheduler implements Drainable {
  readonly #options: SchedulerOptions;
  readonly #crons: Cron[] = [];
  readonly #running = new Map<string, Promise<void>>();
  readonly #databases: OpenDatabases;
  /** Aborts every running job: the end of a drain. */
  readonly #shutdown = new AbortController();
  /** Jobs whose database refused a fire claim (a read-only user): warned once, guarded by the lock alone. */
  readonly #unclaimable = new Set<string>();
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#databases = new OpenDatabases(options.databaseOptions);
  }

  start(): void {
    for (const job of this.#options.config.jobs) {
      this.#options.metrics?.jobScheduled(job.name);
      this.#crons.push(new Cron(job.cron, { timezone: job.timezone, name: `sluice:${job.name}` }, (cron: Cron) => this.fire(job, scheduledFire(cron))));
      this.#options.logger.info({ job: job.name, cron: job.cron, timezone: job.timezone, next: this.#crons.at(-1)!.nextRun()?.toISOString() }, `job ${job.name} scheduled`);
    }
  }

  get running(): number {
    return this.#running.size;
  }

  /** One fire of a job (the cron callback; tests call it too). Resolves when the fire's run ends. */
  fire(job: Job, at: Date = new Date()): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running.has(job.name)) return this.#skip(job, at, 'overlap', 'its previous run in this process is still going');
    const run = (job.via === 'queue' ? this.#enqueue(job, at) : this.#runWithRetries(job, at)).finally(() => this.#running.delete(job.name));
    this.#running.set(job.name, run);
    return run;
  }

  /**
   * Stops new fires, lets running jobs finish for up to `timeoutMs`, then aborts the rest
   * (part files removed, history marked aborted) and closes the databases.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.#stopped = true;
    for (const cron of this.#crons) cron.stop();
    const running = [...this.#running.values()];
    const timer = new AbortController();
    const settled = await Promise.race([
      Promise.allSettled(running).then(() => true),
      sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    const aborted = settled ? 0 : this.#running.size;
    if (!settled) {
      this.#shutdown.abort(new SluiceError('ABORTED', 'The scheduler is shutting down.'));
      await Promise.allSettled(running);
    }
    await this.#databases.closeAll();
    return { finished: running.length - aborted, aborted };
  }

  #database(job: Job): Database {
    return this.#databases.get(resolveDatabaseUrl(job.db, this.#options.defaultDatabase), { create: job.pipeline.createsDatabase });
  }

  async #enqueue(job: Job, at: Date): Promise<void> {
    const { logger, metrics, queue } = this.#options;
    try {
      if (!queue) throw new SluiceError('USAGE', `Job "${job.name}" runs via the queue, and this scheduler has none (--queue-db).`);
      const id = await enqueueJob(await queue(), job, at, this.#options.defaultDatabase);
      if (id === undefined) return await this.#skip(job, at, 'overlap', 'its previous fire still waits or runs in the queue');
      metrics?.jobFinished(job.name, 'queued');
      logger.info({ job: job.name, queueJob: id }, `job ${job.name} queued as ${id}`);
    } catch (error) {
      const failure = toSluiceError(error);
      metrics?.jobFinished(job.name, 'failed');
      logger.error({ err: failure, job: job.name }, `job ${job.name}: could not queue it: ${failure.message}`);
    }
  }

  async #skip(job: Job, at: Date, reason: SkipReason, why: string): Promise<void> {
    this.#options.logger.warn({ job: job.name, firedAt: at.toISOString() }, `job ${job.name} skipped: ${why}`);
    this.#options.metrics?.jobSkipped(job.name, reason);
    this.#options.metrics?.jobFinished(job.name, 'skipped');
    if (this.#options.history === false) return;
    const recorder = new HistoryRecorder(this.#database(job), this.#options.logger);
    await recorder.start({ id: newRunId(at), pipeline: job.pipeline.name, params: job.params, trigger: 'schedule', job: job.name, who: osUser(), host: HOST, heartbeatMs: heartbeatMs(), status: 'skipped', errorMessage: why });
    recorder.settle();
  }

  /** True when this process may run the fire: no other scheduler sharing the database claimed it first. */
  async #claim(job: Job, at: Date): Promise<boolean> {
    if (this.#unclaimable.has(job.name)) return true;
    try {
      return await claimFire(this.#database(job), job.name, at, `${HOST}:${process.pid}`);
    } catch (error) {
      this.#unclaimable.add(job.name);
      this.#options.logger.warn({ err: error, job: job.name }, `job ${job.name}: cannot record its fires in ${this.#database(job).label} (${(error as Error).message}); only its lock keeps other schedulers from running it too`);
      return true;
    }
  }

  async #runWithRetries(job: Job, at: Date): Promise<void> {
    if (!(await this.#claim(job, at))) return this.#skip(job, at, 'taken', 'another scheduler process took this fire');
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(job, at, attempt);
      if (outcome !== 'failed' || attempt > job.retries || this.#shutdown.signal.aborted) return;
      const wait = job.backoffMs * 2 ** (attempt - 1);
      this.#options.logger.warn({ job: job.name, attempt, retryInMs: wait }, `job ${job.name} failed; retry ${attempt} of ${job.retries} in ${Math.round(wait / 1000)} s`);
      const waited = await sleep(wait, true, { signal: this.#shutdown.signal }).catch(() => false);
      if (!waited) return;
    }
  }

  /** One run of a job; resolves to how it ended. */
  async #attempt(job: Job, at: Date, attempt: number): Promise<'succeeded' | 'failed' | 'skipped' | 'done'> {
    const { logger, metrics } = this.#options;
    // A fire's first attempt is named after the fire, as its skips in other schedulers are.
    const runId = newRunId(attempt === 1 ? at : new Date());
    const log = logger.child({ job: job.name, runId, attempt });
    const sink = job.pipeline.sink;
    const out = job.out && sink.type === 'encoder' ? expandPlaceholders(job.out, { name: job.name, pipeline: job.pipeline.name, runId, ext: sink.format.extension, at, timezone: job.timezone }) : undefined;
    const timeout = new AbortController();
    const timer = job.timeoutMs === undefined ? undefined : setTimeout(() => timeout.abort(new SluiceError('TIMEOUT', `Job "${job.name}" ran longer than its timeoutSeconds (${job.timeoutMs! / 1000} s).`)), job.timeoutMs);
    metrics?.runStarted(job.pipeline.name);
    try {
      if (out) checkOutputPath(out, `job "${job.name}" output`);
      const options = { params: job.params, database: this.#database(job), output: out ? outputForPath(out) : undefined, signal: AbortSignal.any([this.#shutdown.signal, timeout.signal]), logger: log };
      const summary = await trackedRun(job.pipeline, options, { trigger: 'schedule', who: osUser(), job: job.name, attempt, runId, history: this.#options.history, live: this.#options.live, lock: { name: job.lock, leaseMs: this.#options.config.lockLeaseMs } });
      metrics?.runEnded(job.pipeline.name, summary);
      metrics?.jobSucceeded(job.name, new Date());
      metrics?.jobFinished(job.name, 'succeeded');
      log.info({ summary }, `job ${job.name}: ${groupDigits(summary.rows)} rows${out ? ` -> ${out}` : ''} in ${(summary.durationMs / 1000).toFixed(2)} s`);
      return 'succeeded';
    } catch (error) {
      const failure = toSluiceError(error);
      if (failure.code === 'LOCKED') {
        metrics?.runSkipped(job.pipeline.name);
        metrics?.jobSkipped(job.name, 'overlap');
        metrics?.jobFinished(job.name, 'skipped');
        log.warn(`job ${job.name} skipped: another process runs it (lock "${job.lock}")`);
        return 'skipped';
      }
      const status = failure.summary?.status ?? 'failed';
      metrics?.runEnded(job.pipeline.name, failure.summary, failure.code);
      metrics?.jobFinished(job.name, status);
      if (status === 'refused') log.info(`job ${job.name} refused: ${failure.message}`);
      else log.error({ err: failure, summary: failure.summary }, `job ${job.name} ${status}: ${failure.message}`);
      return status === 'failed' ? 'failed' : 'done';
    } finally {
      clearTimeout(timer);
    }
  }
}
