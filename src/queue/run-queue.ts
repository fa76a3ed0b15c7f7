import type PgBoss from 'pg-boss';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { RunSummary } from '../core/metrics.ts';
import type { ParamValue } from '../core/params.ts';
import { parseDatabaseUrl, redactUrl } from '../db/url.ts';

/** The pg-boss queue every sluice run goes through, in a schema of its own. */
export const RUN_QUEUE = 'sluice-runs';
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
}

/** What a finished job keeps: the run's outcome, for `submit --wait` and `sluice runs`. */
export interface QueuedRunResult {
  readonly runId: string;
  readonly status: RunSummary['status'] | 'skipped';
  readonly rows: number;
  readonly bytes: number;
  readonly output?: string;
  readonly error?: { readonly code: string; readonly message: string };
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

/** sluice's side of pg-boss: open, submit, read a job, and the raw boss for the worker. */
export class RunQueue {
  private constructor(readonly boss: PgBoss) {}

  /** Connects, creates pg-boss's schema and the run queue if needed. */
  static async open(url: string, options: { readonly supervise?: boolean; readonly env?: NodeJS.ProcessEnv } = {}): Promise<RunQueue> {
    if (parseDatabaseUrl(url).dialect !== 'postgres') throw new SluiceError('USAGE', `The queue needs PostgreSQL (pg-boss): --queue-db ${redactUrl(url)} is not a postgres:// URL.`);
    const { default: Boss } = await import('pg-boss');
    const boss = new Boss({
      connectionString: url,
      schema: QUEUE_SCHEMA,
      application_name: 'sluice queue',
      max: 4,
      supervise: options.supervise ?? true,
      schedule: false,
      maintenanceIntervalSeconds: maintenanceSeconds(options.env ?? process.env),
    });
    let failure: unknown;
    boss.on('error', (error) => (failure ??= error));
    try {
      await boss.start();
      if (!(await boss.getQueue(RUN_QUEUE))) await boss.createQueue(RUN_QUEUE);
    } catch (error) {
      await boss.stop({ graceful: false }).catch(() => undefined);
      throw new SluiceError('DATABASE_UNREACHABLE', `Cannot open the job queue at ${redactUrl(url)}: ${toSluiceError(error).message}`, { cause: error });
    }
    return new RunQueue(boss);
  }

  async submit(run: QueuedRun, options: SubmitOptions): Promise<string> {
    const id = await this.boss.send(RUN_QUEUE, run, {
      retryLimit: options.retries,
      retryDelay: 1,
      retryBackoff: true,
      expireInSeconds: options.expireSeconds,
      ...(options.key === undefined ? {} : { singletonKey: options.key }),
    });
    if (id === null) throw new SluiceError('INTERNAL', 'The queue did not take the job.');
    return id;
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
