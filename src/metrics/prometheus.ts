import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunSummary } from '../core/metrics.ts';

/** Upper bounds (seconds) of the run duration histogram: exports take from a second to hours. */
// prom-client (with @opentelemetry/api) takes ~35 ms to load: only a process that makes metrics pays it, not every CLI command.
const require = createRequire(import.meta.url);
const promClient = (): typeof PromClient => require('prom-client') as typeof PromClient;

export const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** A run's end as counted: its summary's status, or skipped (another run held its lock; it never started). */
const RUN_STATUSES = ['succeeded', 'failed', 'aborted', 'refused', 'skipped'] as const;

/** How a scheduled job's fire ended: a run status, skipped (its previous run still held the job), or queued for the workers. */
export type JobOutcome = RunSummary['status'] | 'skipped' | 'queued';
/** Why a fire did not run: its previous run still held the job, or another scheduler took the fire. */
export type SkipReason = 'overlap' | 'taken';

export interface SluiceMetricsOptions {
  /**
   * The prom-client registry to register in (default: a registry of this instance's own, so two
   * servers in one process never collide). Pass your app's registry to serve one `/metrics`.
   */
  readonly registry?: Registry;
  /**
   * Also collect prom-client's process metrics (memory, heap, event-loop lag, GC, handles).
   * Default: true with a registry of its own, false with yours (you may collect them already).
   */
  readonly defaultMetrics?: boolean;
}

/**
 * sluice's Prometheus metrics on prom-client, fed from the RunSummary every run returns (or carries
 * on its error): the same figures the CLI prints, per pipeline, and for schedules per job.
 */
export class SluiceMetrics {
  readonly registry: Registry;
  #active = 0;
  readonly #started: Counter<'pipeline'>;
  readonly #finished: Counter<'pipeline' | 'status'>;
  readonly #failed: Counter<'pipeline' | 'code'>;
  readonly #rows: Counter<'pipeline'>;
  readonly #bytes: Counter<'pipeline'>;
  readonly #duration: Histogram<'pipeline'>;
  readonly #jobRuns: Counter<'job' | 'status'>;
  readonly #jobSkipped: Counter<'job' | 'reason'>;
  readonly #jobLastSuccess: Gauge<'job'>;

  constructor(options: SluiceMetricsOptions = {}) {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = promClient();
    this.registry = options.registry ?? new Registry();
    if (options.defaultMetrics ?? !options.registry) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.#started = new Counter({ name: 'sluice_runs_started_total', help: 'Runs started (parameters valid, export slot taken).', labelNames: ['pipeline'], registers });
    this.#finished = new Counter({
      name: 'sluice_runs_finished_total',
      help: 'Runs ended, by status (succeeded; failed; aborted; refused: no rows or a refused precondition, not a failure; skipped: another run held its lock).',
      labelNames: ['pipeline', 'status'],
      registers,
    });
    this.#failed = new Counter({ name: 'sluice_runs_failed_total', help: 'Failed runs by error code.', labelNames: ['pipeline', 'code'], registers });
    this.#rows = new Counter({ name: 'sluice_rows_exported_total', help: 'Rows that reached the sink.', labelNames: ['pipeline'], registers });
    this.#bytes = new Counter({ name: 'sluice_bytes_exported_total', help: 'Bytes written to files and responses (after compression).', labelNames: ['pipeline'], registers });
    this.#duration = new Histogram({
      name: 'sluice_run_duration_seconds',
      help: 'Run duration, from validation to the last byte.',
      labelNames: ['pipeline'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    const active = (): number => this.#active;
    new Gauge({
      name: 'sluice_active_runs',
      help: 'Runs going on now.',
      registers,
      collect() {
        this.set(active());
      },
    });
    this.#jobRuns = new Counter({ name: 'sluice_job_runs_total', help: "Scheduled jobs' fires by outcome (skipped: the previous run still held the job).", labelNames: ['job', 'status'], registers });
    this.#jobSkipped = new Counter({ name: 'sluice_job_skipped_total', help: 'Fires skipped, by reason (overlap: the previous run, here or in another process, still held the job; taken: another scheduler process ran this fire).', labelNames: ['job', 'reason'], registers });
    this.#jobLastSuccess = new Gauge({
      name: 'sluice_job_last_success_timestamp_seconds',
      help: 'Unix time of the last successful run of each scheduled job (alert when it is too old).',
      labelNames: ['job'],
      registers,
    });
  }

  get activeRuns(): number {
    return this.#active;
  }

  runStarted(pipeline: string): void {
    this.#started.inc({ pipeline });
    // Every status shows from the first run, 0 included, so rate() and alerts see a series from the start.
    for (const status of RUN_STATUSES) this.#finished.inc({ pipeline, status }, 0);
    this.#active++;
  }

  /** Call exactly once per `runStarted`, with the run's summary (or none if it has none). */
  runEnded(pipeline: string, summary: RunSummary | undefined, errorCode?: string): void {
    this.#active--;
    const status = summary?.status ?? 'failed';
    this.#finished.inc({ pipeline, status });
    if (status === 'failed') this.#failed.inc({ pipeline, code: summary?.error?.code ?? errorCode ?? 'INTERNAL' });
    if (!summary) return;
    this.#rows.inc({ pipeline }, summary.rows);
    this.#bytes.inc({ pipeline }, summary.bytesWritten);
    this.#duration.observe({ pipeline }, summary.durationMs / 1000);
  }

  /** Ends a `runStarted` whose run never began: another run held its lock. */
  runSkipped(pipeline: string): void {
    this.#active--;
    this.#finished.inc({ pipeline, status: 'skipped' });
  }

  /** A job is known before its first fire: its success gauge exists (0: never) so an alert can see it. */
  jobScheduled(job: string): void {
    this.#jobLastSuccess.inc({ job }, 0);
    this.#jobSkipped.inc({ job, reason: 'overlap' }, 0);
    this.#jobSkipped.inc({ job, reason: 'taken' }, 0);
  }

  jobSucceeded(job: string, at: Date): void {
    this.#jobLastSuccess.set({ job }, at.getTime() / 1000);
  }

  jobFinished(job: string, status: JobOutcome): void {
    this.#jobRuns.inc({ job, status });
  }

  jobSkipped(job: string, reason: SkipReason): void {
    this.#jobSkipped.inc({ job, reason });
  }

  /** The exposition text. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
