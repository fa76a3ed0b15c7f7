import type { Database } from '../core/database.ts';
import { sqlFor } from '../core/sql-binder.ts';
import type { Row, Value } from '../core/values.ts';
import { ensureHistorySchema } from './history-schema.ts';

export type RunTrigger = 'cli' | 'http' | 'schedule' | 'worker';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'aborted' | 'refused' | 'skipped' | 'abandoned';
export const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'aborted', 'refused', 'skipped', 'abandoned'];

/** One run as the history holds it (times as ISO-8601 UTC). */
export interface RunRecord {
  readonly id: string;
  readonly pipeline: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly trigger: RunTrigger;
  /** The scheduled job that fired it. */
  readonly job: string | null;
  /** 1, or the retry's number. */
  readonly attempt: number;
  /** The OS user (CLI, schedule), or the client (HTTP). */
  readonly who: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly heartbeatAt: string;
  /** `running` with a heartbeat older than three intervals reads as `abandoned`: its process died. */
  readonly status: RunStatus;
  readonly rows: number;
  readonly bytes: number;
  readonly expectedRows: number | null;
  readonly output: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

/** What a run's start records. */
export interface RunStart {
  readonly id: string;
  readonly pipeline: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly trigger: RunTrigger;
  readonly job?: string;
  readonly attempt?: number;
  readonly who: string;
  readonly host: string;
  readonly heartbeatMs: number;
  readonly output?: string;
  /** `skipped` records a run that never started (its lock was held), finished at once. */
  readonly status?: 'running' | 'skipped';
  readonly errorMessage?: string;
}

export interface RunEnd {
  readonly status: Exclude<RunStatus, 'running' | 'abandoned' | 'skipped'>;
  readonly rows: number;
  readonly bytes: number;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export interface RunFilter {
  readonly pipeline?: string;
  readonly status?: RunStatus;
  readonly job?: string;
  readonly limit?: number;
}

const COLUMNS = `id, pipeline, params, triggered_by, job, attempt, who, host, pid, started_at, finished_at, heartbeat_at,
  status, heartbeat_ms, row_count, byte_count, expected_rows, output, error_code, error_message`;

const iso = (ms: Value): string => new Date(Number(ms)).toISOString();
const maybe = <T>(value: Value, as: (v: Value) => T): T | null => (value === null ? null : as(value));

function record(row: Row, now: number): RunRecord {
  const [id, pipeline, params, trigger, job, attempt, who, host, pid, startedAt, finishedAt, heartbeatAt, status, heartbeatMs, rows, bytes, expectedRows, output, errorCode, errorMessage] = row;
  const stale = status === 'running' && Number(heartbeatAt) + 3 * Number(heartbeatMs) < now;
  return {
    id: String(id),
    pipeline: String(pipeline),
    params: JSON.parse(String(params)) as Record<string, unknown>,
    trigger: String(trigger) as RunTrigger,
    job: maybe(job!, String),
    attempt: Number(attempt),
    who: String(who),
    host: String(host),
    pid: Number(pid),
    startedAt: iso(startedAt!),
    finishedAt: maybe(finishedAt!, iso),
    heartbeatAt: iso(heartbeatAt!),
    status: stale ? 'abandoned' : (String(status) as RunStatus),
    rows: Number(rows),
    bytes: Number(bytes),
    expectedRows: maybe(expectedRows!, Number),
    output: maybe(output!, String),
    errorCode: maybe(errorCode!, String),
    errorMessage: maybe(errorMessage!, String),
  };
}

/**
 * The `sluice_runs` table of one database: every run of the CLI, the server and the scheduler,
 * the audit trail of who exported what with which parameters. Created on first use.
 */
const PART = ' part';

/** The job a partition's run is recorded under: `<run id> part <i>/<n>`, i from 1 (see `partitionsOf`). */
export function partitionJobName(runId: string, index: number, of: number): string {
  return `${runId}${PART} ${index + 1}/${of}`;
}

export class RunHistory {
  readonly #db: Database;
  readonly #sql: ReturnType<typeof sqlFor>;

  private constructor(db: Database) {
    this.#db = db;
    this.#sql = sqlFor(db.dialect);
  }

  /** For writing: creates the tables on first use. */
  static async open(db: Database): Promise<RunHistory> {
    await ensureHistorySchema(db);
    return new RunHistory(db);
  }

  /** For reading only: a database without history says so (MISSING_TABLE), and nothing is created. */
  static reader(db: Database): RunHistory {
    return new RunHistory(db);
  }

  async start(run: RunStart, now = Date.now()): Promise<void> {
    const status = run.status ?? 'running';
    const finished = status === 'running' ? null : now;
    await this.#db.change(this.#sql`INSERT INTO sluice_runs (id, pipeline, params, triggered_by, job, attempt, who, host, pid,
      started_at, finished_at, heartbeat_at, heartbeat_ms, status, row_count, byte_count, output, error_message)
      VALUES (${run.id}, ${run.pipeline}, ${JSON.stringify(run.params)}, ${run.trigger}, ${run.job ?? null}, ${run.attempt ?? 1}, ${run.who}, ${run.host}, ${process.pid},
      ${now}, ${finished}, ${now}, ${run.heartbeatMs}, ${status}, 0, 0, ${run.output ?? null}, ${run.errorMessage ?? null})`);
  }

  async heartbeat(id: string, progress: { readonly rows: number; readonly bytes: number; readonly expectedRows?: number }, now = Date.now()): Promise<void> {
    await this.#db.change(this.#sql`UPDATE sluice_runs SET heartbeat_at = ${now}, row_count = ${progress.rows}, byte_count = ${progress.bytes},
      expected_rows = ${progress.expectedRows ?? null} WHERE id = ${id} AND status = 'running'`);
  }

  async finish(id: string, end: RunEnd, now = Date.now()): Promise<void> {
    await this.#db.change(this.#sql`UPDATE sluice_runs SET status = ${end.status}, finished_at = ${now}, heartbeat_at = ${now},
      row_count = ${end.rows}, byte_count = ${end.bytes}, error_code = ${end.errorCode ?? null}, error_message = ${end.errorMessage ?? null}
      WHERE id = ${id}`);
  }

  /** Newest first. */
  async list(filter: RunFilter = {}, now = Date.now()): Promise<RunRecord[]> {
    const effective = this.#effectiveStatus(now);
    const where: string[] = [];
    const values: Value[] = [];
    const add = (condition: string, value: Value) => {
      where.push(condition);
      values.push(value);
    };
    if (filter.pipeline !== undefined) add('pipeline = ?', filter.pipeline);
    if (filter.job !== undefined) add('job = ?', filter.job);
    if (filter.status !== undefined) add(`${effective} = ?`, filter.status);
    const rows = await this.#db.query(this.#bind(`SELECT ${COLUMNS} FROM sluice_runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`, [...values, filter.limit ?? 20]));
    return rows.map((row) => record(row, now));
  }

  async get(id: string, now = Date.now()): Promise<RunRecord | undefined> {
    const [row] = await this.#db.query(this.#bind(`SELECT ${COLUMNS} FROM sluice_runs WHERE id = ?`, [id]));
    return row && record(row, now);
  }

  /** The partitions of a partitioned run (`sluice submit --partitions`), in order: each is a run of its own (see `partitionJobName`). */
  async partitionsOf(id: string, now = Date.now()): Promise<RunRecord[]> {
    const rows = await this.#db.query(this.#bind(`SELECT ${COLUMNS} FROM sluice_runs WHERE job LIKE ? ESCAPE '\\' ORDER BY started_at, id`, [`${id.replace(/[\\%_]/g, '\\$&')}${PART} %`]));
    const records = rows.map((row) => record(row, now));
    const index = (run: RunRecord) => Number(new RegExp(`${PART} (\\d+)/`).exec(run.job ?? '')?.[1] ?? 0);
    return records.sort((a, b) => index(a) - index(b) || a.startedAt.localeCompare(b.startedAt));
  }

  /** Deletes the runs started before `before` (a run still beating stays); resolves to how many. */
  async prune(before: number, now = Date.now()): Promise<number> {
    return this.#db.change(this.#bind(`DELETE FROM sluice_runs WHERE started_at < ? AND ${this.#effectiveStatus(now)} <> 'running'`, [before]));
  }

  #effectiveStatus(now: number): string {
    return `(CASE WHEN status = 'running' AND heartbeat_at + 3 * heartbeat_ms < ${Math.floor(now)} THEN 'abandoned' ELSE status END)`;
  }

  /** `?` placeholders in order, in the database's own style. */
  #bind(text: string, values: readonly Value[]): { text: string; values: readonly Value[] } {
    let n = 0;
    return { text: this.#db.dialect === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text, values };
  }
}
