import type PgBoss from 'pg-boss';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { RunSummary } from '../core/metrics.ts';
import type { ParamValue } from '../core/params.ts';
import { parseDatabaseUrl, redactUrl } from '../db/url.ts';
import type { PartitionJob, PartitionResult, PartitionState } from './partition-job.ts';

/** The pg-boss queue every sluice run goes through, in a schema of its own. */
export const RUN_QUEUE = 'sluice-runs';
/** The queue of a partitioned run's partitions (see partitioned-run.ts). */
export const PARTITION_QUEUE = 'sluice-partitions';
export const QUEUE_SCHEMA = 'sluice_queue';

/** A run as submitted: what `sluice run` would be given, checked by the submitter and again by the worker. */
export interface QueuedRun {
  readonly pipeline: string;
  readonly params: Readonly<Record<string, Exclude<ParamValue, undefined>>>;
  /** The database the run reads and writes; undefined: the worker's default. */
  readonly db?: string;
  /** The output file (on storage every worker shares); undefined: the pipeline's default. */
  readonly out?: string;
  readonly submittedBy: string;
  /** The scheduled job that submitted it: its history rows and metrics carry this name. */
  readonly job?: string;
  /** Run only if no other run holds this lock (a scheduled job's lock): a second one ends skipped. */
  readonly lock?: string;
  /** Cut the run into this many partitions, run by any workers (see partitioned-run.ts). */
  readonly partitions?: number;
  /** A partitioned run's `expireSeconds` for each partition; the run's own job waits on them all and may take longer. */
  readonly partitionExpireSeconds?: number;
}

/** What a finished job keeps: the run's outcome, for `submit --wait` and `sluice runs`. */
export interface QueuedRunResult {
  readonly runId: string;
  readonly status: RunSummary['status'] | 'skipped';
  readonly rows: number;
  readonly bytes: number;
  readonly output?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** A partitioned run's partitions, each with its job's state. */
  readonly partitions?: readonly PartitionState[];
}

export type QueueJobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';

export interface QueueJob {
  readonly id: string;
  readonly state: QueueJobState;
  readonly retryCount: number;
  readonly data: QueuedRun;
  readonly output: QueuedRunResult | { readonly message?: string } | null;
}

export interface SubmitOptions {
  /** Attempts after the first when a run fails (a worker killed, a database gone). */
  readonly retries: number;
  /** A job not finished this long after it started is taken as lost and retried elsewhere. */
  readonly expireSeconds: number;
  /** Marks the job so `pending(key)` finds it while it waits or runs (a scheduled job's name). */
  readonly key?: string;
}

/** Seconds between pg-boss's maintenance passes, which expire the jobs of dead workers. */
function maintenanceSeconds(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.SLUICE_QUEUE_MAINTENANCE_SECONDS);
  return Number.isInteger(seconds) && seconds >= 1 ? seconds : 60;
}

/**
 * Workers started together on a new queue database install pg-boss's schema and create the
 * queues at the same moment, and PostgreSQL may answer one of them with a deadlock (40P01) or a
 * duplicate (23505): the schema or the queue is there or about to be, so the start is tried again.
 */
function isStartRace(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '40P01' || code === '23505';
}

const START_ATTEMPTS = 5;

/** pg-boss takes no job that may run 24 hours or more. */
const MAX_EXPIRE_SECONDS = 24 * 3600 - 1;

/**
 * How long a partitioned run's own job may take: its partitions one after the other (all on one
 * worker slot, at worst), each within `expireSeconds`, then the assembly. Its job must not expire
 * (and be retried beside it) merely because a partition was retried after a worker died.
 */
function coordinatorExpiry(expireSeconds: number, partitions: number): number {
  return Math.min(MAX_EXPIRE_SECONDS, expireSeconds * (partitions + 1));
}

/** sluice's side of pg-boss: open, submit, read a job, and the raw boss for the worker. */
export class RunQueue {
  private constructor(readonly boss: PgBoss) {}

  /** Connects, creates pg-boss's schema and the run queue if needed. */
  static async open(url: string, options: { readonly supervise?: boolean; readonly env?: NodeJS.ProcessEnv } = {}): Promise<RunQueue> {
    if (parseDatabaseUrl(url).dialect !== 'postgres') throw new SluiceError('USAGE', `The queue needs PostgreSQL (pg-boss): --queue-db ${redactUrl(url)} is not a postgres:// URL.`);
    const { default: Boss } = await import('pg-boss');
    for (let attempt = 1; ; attempt++) {
      const boss = new Boss({
        connectionString: url,
        schema: QUEUE_SCHEMA,
        application_name: 'sluice queue',
        max: 4,
        supervise: options.supervise ?? true,
        schedule: false,
        maintenanceIntervalSeconds: maintenanceSeconds(options.env ?? process.env),
      });
      // Failures surface from start() and the calls below; the event only needs a listener.
      boss.on('error', () => undefined);
      try {
        await boss.start();
        for (const name of [RUN_QUEUE, PARTITION_QUEUE]) if (!(await boss.getQueue(name))) await boss.createQueue(name);
        return new RunQueue(boss);
      } catch (error) {
        await boss.stop({ graceful: false }).catch(() => undefined);
        if (attempt < START_ATTEMPTS && isStartRace(error)) {
          await sleep(100 * attempt + Math.random() * 200);
          continue;
        }
        throw new SluiceError('DATABASE_UNREACHABLE', `Cannot open the job queue at ${redactUrl(url)}: ${toSluiceError(error).message}`, { cause: error });
      }
    }
  }

  async submit(run: QueuedRun, options: SubmitOptions): Promise<string> {
    const partitioned = (run.partitions ?? 1) > 1;
    const id = await this.boss.send(RUN_QUEUE, partitioned ? { ...run, partitionExpireSeconds: options.expireSeconds } : run, {
      retryLimit: options.retries,
      retryDelay: 1,
      retryBackoff: true,
      expireInSeconds: partitioned ? coordinatorExpiry(options.expireSeconds, run.partitions!) : options.expireSeconds,
      ...(options.key === undefined ? {} : { singletonKey: options.key }),
    });
    if (id === null) throw new SluiceError('INTERNAL', 'The queue did not take the job.');
    return id;
  }

  /** Queues a partitioned run's partitions; resolves to their job ids, in order. */
  async submitPartitions(jobs: readonly PartitionJob[], options: SubmitOptions): Promise<string[]> {
    const ids: string[] = [];
    for (const job of jobs) {
      const id = await this.boss.send(PARTITION_QUEUE, job, { retryLimit: options.retries, retryDelay: 1, retryBackoff: true, expireInSeconds: options.expireSeconds });
      if (id === null) throw new SluiceError('INTERNAL', 'The queue did not take a partition.');
      ids.push(id);
    }
    return ids;
  }

  /** The partitions' jobs as they stand, in order. */
  async partitionStates(ids: readonly string[]): Promise<PartitionState[]> {
    return Promise.all(
      ids.map(async (id, index) => {
        const job = await this.boss.getJobById<PartitionJob>(PARTITION_QUEUE, id, { includeArchive: true });
        if (!job) return { index, job: id, state: 'failed', attempts: 0 };
        const result = job.state === 'completed' ? (job.output as PartitionResult | null) : null;
        return { index, job: id, state: job.state, attempts: job.retryCount + 1, ...(result ? { rows: result.rows, bytes: result.bytes } : {}) };
      }),
    );
  }

  /** Cancels the partitions still waiting or running (a failed or aborted run's). */
  async cancelPartitions(ids: readonly string[]): Promise<void> {
    await this.boss.cancel(PARTITION_QUEUE, [...ids]);
  }

  /** A job submitted under `key` that is still waiting, waiting for a retry, or running. */
  async pending(key: string): Promise<string | undefined> {
    const { rows } = await this.boss
      .getDb()
      .executeSql(`SELECT id FROM ${QUEUE_SCHEMA}.job WHERE name = $1 AND singleton_key = $2 AND state IN ('created', 'retry', 'active') LIMIT 1`, [RUN_QUEUE, key]);
    return rows[0]?.id === undefined ? undefined : String(rows[0].id);
  }

  async job(id: string): Promise<QueueJob | undefined> {
    const job = await this.boss.getJobById<QueuedRun>(RUN_QUEUE, id, { includeArchive: true });
    if (!job) return undefined;
    return { id: job.id, state: job.state, retryCount: job.retryCount, data: job.data, output: job.output as QueueJob['output'] };
  }

  /** Closes the connections; running work of this process is failed back to the queue (pg-boss's own stop). */
  close(timeoutMs = 1000): Promise<void> {
    return this.boss.stop({ graceful: true, timeout: timeoutMs, wait: true });
  }
}

/** The queue's database: `--queue-db`, else SLUICE_QUEUE_URL, else DATABASE_URL when it is PostgreSQL. */
export function queueUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? (env.SLUICE_QUEUE_URL || undefined) ?? (env.DATABASE_URL && /^postgres(ql)?:\/\//i.test(env.DATABASE_URL) ? env.DATABASE_URL : undefined);
  if (url === undefined) throw new SluiceError('USAGE', 'Name the queue\'s PostgreSQL database: --queue-db postgres://..., or SLUICE_QUEUE_URL (or a PostgreSQL DATABASE_URL).');
  return url;
}
