import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { RunHistory } from '../../src/ops/run-history.ts';
import { LiveRuns } from '../../src/ops/live-runs.ts';
import { showRun } from '../../src/http/runs-api.ts';
import { sluice } from '../support/cli.ts';
import { type Daemon, startDaemon } from '../support/daemon.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import type { PartitionJob } from '../../src/queue/partition-job.ts';
import { RunQueue } from '../../src/queue/run-queue.ts';

const dir = scratchDir('sluice-partitions-');
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase;
let url = '';

beforeAll(async () => {
  if (!pgOk) return;
  scratch = await createScratchDatabase();
  url = scratch.url;
  const seeded = await sluice(['run', 'seed-tickets', '--db', url, '--count', '20000', '--log-level', 'warn']);
  expect(seeded.code, seeded.stderr).toBe(0);
  // Skewed keys: a wide gap, then a dense run, so ranges cut by key arithmetic would not balance.
  await onDatabase(url, 'DELETE FROM tickets WHERE id BETWEEN 1000 AND 15000');
}, 90_000);

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

/** A `sluice worker` process (the package's own pipelines) on the scratch database's queue. */
function startWorker(): Promise<Daemon> {
  return startDaemon(['worker', '--queue-db', url, '--db', url, '--log-level', 'info'], /taking jobs/, {
    cwd: dir.path,
    env: { DATABASE_URL: '', SLUICE_QUEUE_MAINTENANCE_SECONDS: '1' },
  });
}

function submit(args: string[]) {
  // Killed before the test's own timeout, so a run that hangs still reports what the workers logged.
  return sluice(['submit', ...args, '--queue-db', url, '--db', url], { cwd: dir.path, env: { DATABASE_URL: '' }, killAfterMs: 75_000 });
}

/** The end of each worker's log, for an assertion's message. */
function logsOf(workers: ReadonlyArray<Daemon | undefined>): string {
  return workers.map((w, i) => `--- worker ${i + 1}:\n${w?.stderr().slice(-4000) ?? ''}`).join('\n');
}

/** A client of the test's own; the scratch database's drop may end its connection. */
async function lockingClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** What one `sluice run` of the same export writes. */
async function single(args: string[]): Promise<Buffer> {
  const run = await sluice(['run', 'export-csv', ...args, '--db', url, '--out', '-', '--no-history']);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

/** No part folder is left beside the outputs. */
function leftoverParts(): string[] {
  return readdirSync(dir.path).filter((name) => name.includes('.parts-'));
}

interface WaitResult {
  readonly state: string;
  readonly result: { readonly status: string; readonly rows: number; readonly partitions: ReadonlyArray<{ readonly state: string; readonly rows: number }> };
}

describe.skipIf(!pgOk)('partitioned runs (sluice submit --partitions)', () => {
  it('3 workers complete a 4-partition export byte-identical to one sluice run; each partition is a recorded run', async () => {
    const workers = await Promise.all([startWorker(), startWorker(), startWorker()]);
    try {
      const result = await submit(['export-csv', '--out', 'four.csv', '--partitions', '4', '--wait', '--json']);
      expect(result.code, result.stderr).toBe(0);
      const done = JSON.parse(result.stdout.toString()) as WaitResult;
      expect(done.state).toBe('completed');
      expect(done.result.partitions.map((p) => p.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
      // Balanced by rank, not by key arithmetic: 5,999 rows left around the gap.
      expect(done.result.partitions.map((p) => p.rows)).toEqual([1500, 1500, 1500, 1499]);
      expect(readFileSync(dir.file('four.csv')).equals(await single([]))).toBe(true);
      expect(leftoverParts()).toEqual([]);
      const db = openDatabase(url);
      try {
        // The run itself, then each partition as a run of its own that names it.
        const runs = await RunHistory.reader(db).list({ limit: 100 });
        const run = runs.find((r) => r.output === dir.file('four.csv'));
        expect(run).toMatchObject({ pipeline: 'export-csv', trigger: 'worker', status: 'succeeded', rows: 5999 });
        const parts = runs.filter((r) => r.job?.startsWith(`${run!.id} part `));
        expect(parts.map((r) => r.job!.slice(run!.id.length + 1)).sort()).toEqual(['part 1/4', 'part 2/4', 'part 3/4', 'part 4/4']);
        expect(parts.every((r) => r.status === 'succeeded')).toBe(true);
        expect(parts.reduce((sum, r) => sum + r.rows, 0)).toBe(5999);
        // `sluice runs show` and GET /api/runs/<id> list the partitions with the run.
        const shown = await sluice(['runs', 'show', run!.id, '--db', url, '--json']);
        const record = JSON.parse(shown.stdout.toString()) as { partitions: Array<{ job: string; rows: number }> };
        expect(record.partitions.map((p) => p.job.slice(run!.id.length + 1))).toEqual(['part 1/4', 'part 2/4', 'part 3/4', 'part 4/4']);
        expect((await sluice(['runs', 'show', run!.id, '--db', url])).stdout.toString()).toMatch(/\npartitions:\nid .*\n-.*\n(.*part \d\/4.*\n){4}$/);
        const viaApi = await showRun(db, new LiveRuns(), run!.id);
        expect(viaApi?.partitions?.map((p) => p.rows)).toEqual([1500, 1500, 1500, 1499]);
      } finally {
        await db.close();
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  }, 90_000);

  it('filters, a limit and a .gz output give the same bytes as one run (the parts are compressed once, when joined)', async () => {
    const worker = await startWorker();
    try {
      const result = await submit(['export-csv', '--status', 'sold', '--limit', '1234', '--out', 'sold.csv.gz', '--partitions', '3', '--wait']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.toString()).toMatch(/^succeeded: 1,234 rows -> /);
      const { gunzipSync } = await import('node:zlib');
      const expected = await single(['--status', 'sold', '--limit', '1234']);
      expect(gunzipSync(readFileSync(dir.file('sold.csv.gz'))).equals(expected)).toBe(true);
      const viaRun = await sluice(['run', 'export-csv', '--status', 'sold', '--limit', '1234', '--db', url, '--out', dir.file('sold-run.csv.gz'), '--no-history']);
      expect(viaRun.code).toBe(0);
      expect(readFileSync(dir.file('sold.csv.gz')).equals(readFileSync(dir.file('sold-run.csv.gz')))).toBe(true);
    } finally {
      await worker.stop();
    }
  }, 60_000);

  it('reads one snapshot: rows changed after the partitions were planned are in no part', async () => {
    const expected = await single([]);
    const worker = await startWorker();
    const locker = await lockingClient();
    try {
      const submitted = submit(['export-csv', '--out', 'snapshot.csv', '--partitions', '2', '--wait']);
      // Once the partitions are queued (the snapshot taken), hold them back and change every row they will read.
      await waitFor(async () => (await partitionJobs()) >= 2);
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE');
      await waitFor(async () => (await lockWaiters()) >= 1);
      await locker.query("UPDATE tickets SET buyer_name = 'changed later'");
      await locker.query('COMMIT');
      expect((await submitted).code).toBe(0);
      expect(readFileSync(dir.file('snapshot.csv')).equals(expected)).toBe(true);
    } finally {
      await locker.end();
      await worker.stop();
    }
  }, 60_000);

  it('a worker SIGKILLed mid-partition loses nothing: the run still ends with the exact file and no part folder', async () => {
    const expected = await single([]);
    const [a, b] = await Promise.all([startWorker(), startWorker()]);
    const locker = await lockingClient();
    let rescuer: Daemon | undefined;
    try {
      // Both partitions start and wait on the lock: killing a worker now kills it mid-partition.
      const { submitted } = await heldBack(locker, ['export-csv', '--out', 'killed.csv', '--partitions', '2', '--expire', '10', '--wait'], 2);
      expect(await a!.stop('SIGKILL')).toBe(null);
      rescuer = await startWorker();
      await locker.query('COMMIT');
      const result = await submitted;
      expect(result.code, `${result.stderr}\n${logsOf([a, b, rescuer])}`).toBe(0);
      expect(readFileSync(dir.file('killed.csv')).equals(expected)).toBe(true);
      await waitFor(async () => leftoverParts().length === 0);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await Promise.all([b!.stop(), rescuer?.stop()]);
    }
  }, 90_000);

  it('a partition that fails for good fails the run: nothing is assembled, no output, no part folder', async () => {
    const worker = await startWorker();
    const locker = await lockingClient();
    try {
      const { submitted } = await heldBack(locker, ['export-csv', '--out', 'failed.csv', '--partitions', '2', '--retries', '0', '--wait'], 1);
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name = 'sluice'", [scratch.name]);
      await locker.query('COMMIT');
      const result = await submitted;
      expect(result.code).toBe(1);
      expect(result.stdout.toString()).toMatch(/^failed: Partition \d of 2 failed after 1 attempt\(s\) \(job \S+\); the run stopped \(an export assembles nothing/);
      expect(() => readFileSync(dir.file('failed.csv'))).toThrow(/ENOENT/);
      await waitFor(async () => leftoverParts().length === 0);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await worker.stop();
    }
  }, 60_000);

  it('a partitioned migration leaves the table as one run does (one stamp for the run); a retried partition changes nothing', async () => {
    const [a, b] = [await createScratchDatabase(), await createScratchDatabase()];
    const worker = await startWorker();
    try {
      for (const target of [a, b]) {
        const seeded = await sluice(['run', 'seed-tickets', '--db', target.url, '--count', '3000', '--legacy-barcodes', '--log-level', 'warn']);
        expect(seeded.code, seeded.stderr).toBe(0);
        // Trouble in more than one partition: a collision pair, an invalid barcode, one already done.
        await onDatabase(target.url, "UPDATE tickets SET barcode = CASE id WHEN 10 THEN '777' WHEN 2900 THEN '0777' WHEN 1500 THEN '12A' WHEN 2000 THEN '12345678' END WHERE id IN (10, 2900, 1500, 2000)");
      }
      const partitioned = await sluice(['submit', 'migrate-8digit-barcodes', '--queue-db', url, '--db', a.url, '--skip-invalid', '--partitions', '3', '--wait', '--json'], { cwd: dir.path });
      expect(partitioned.code, partitioned.stderr).toBe(0);
      const done = JSON.parse(partitioned.stdout.toString()) as WaitResult;
      // Each partition changed its own third, not the whole table.
      expect(done.result.partitions.map((p) => p.rows)).toEqual([999, 999, 998]);
      const single = await sluice(['run', 'migrate-8digit-barcodes', '--db', b.url, '--skip-invalid', '--log-level', 'warn']);
      expect(single.code, single.stderr).toBe(0);
      const table = 'SELECT id, barcode, updated_at IS NOT DISTINCT FROM sold_at AS untouched FROM tickets ORDER BY id';
      expect(await onDatabase(a.url, table)).toEqual(await onDatabase(b.url, table));
      expect(done.result.rows).toBe(2996);
      const stamps = await onDatabase(a.url, 'SELECT count(DISTINCT updated_at) AS n FROM tickets WHERE length(barcode) = 8 AND id <> 2000');
      expect(stamps).toEqual([{ n: '1' }]);

      // pg-boss may deliver a partition twice: the second delivery finds nothing left to change.
      const fingerprint = "SELECT md5(string_agg(id || barcode || coalesce(updated_at::text, ''), ',' ORDER BY id)) AS h FROM tickets";
      const before = await onDatabase(a.url, fingerprint);
      const jobData = "SELECT data FROM sluice_queue.job WHERE name = 'sluice-partitions' AND data->>'db' = $1 AND data->>'index' = '1' UNION ALL SELECT data FROM sluice_queue.archive WHERE name = 'sluice-partitions' AND data->>'db' = $1 AND data->>'index' = '1'";
      const [again] = await onDatabase<{ data: PartitionJob }>(url, jobData, [a.url]);
      const queue = await RunQueue.open(url, { supervise: false });
      try {
        const [id] = await queue.submitPartitions([again!.data], { retries: 0, expireSeconds: 60 });
        await waitFor(async () => (await queue.partitionStates([id!]))[0]!.state === 'completed');
        expect((await queue.partitionStates([id!]))[0]).toMatchObject({ state: 'completed', rows: 0 });
      } finally {
        await queue.close();
      }
      expect(await onDatabase(a.url, fingerprint)).toEqual(before);
    } finally {
      await worker.stop();
      await a.drop();
      await b.drop();
    }
  }, 90_000);

  it('a schedule feeds partitioned runs to the workers ("via": "queue", "partitions"), each under the job\'s lock', async () => {
    const expected = await single(['--status', 'sold']);
    const worker = await startWorker();
    const config = dir.file('partitioned-schedule.json');
    const job = { name: 'sold-parts', cron: '* * * * * *', via: 'queue', partitions: 2, pipeline: 'export-csv', params: { status: 'sold' }, db: url, out: 'scheduled/{runId}.csv' };
    writeFileSync(config, JSON.stringify({ queue: url, jobs: [job] }));
    const scheduler = await startDaemon(['schedule', '--config', config, '--log-level', 'info'], /job scheduled/, { cwd: dir.path, env: { DATABASE_URL: '' } });
    const db = openDatabase(url);
    try {
      let done: Awaited<ReturnType<RunHistory['list']>> = [];
      await waitFor(async () => (done = await RunHistory.reader(db).list({ job: 'sold-parts', status: 'succeeded', limit: 10 })).length >= 1);
      expect(await scheduler.stop()).toBe(0);
      expect(readFileSync(done[0]!.output!).equals(expected)).toBe(true);
      expect(await RunHistory.reader(db).partitionsOf(done[0]!.id)).toHaveLength(2);
    } finally {
      await db.close();
      await worker.stop();
    }
  }, 60_000);

  it('refuses at submit what cannot be partitioned: no --out, an XLSX file, a SQLite database', async () => {
    const noOut = await submit(['export-csv', '--partitions', '2']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--partitions needs --out: a file path on storage every worker shares/);
    const xlsx = await submit(['export-xlsx', '--partitions', '2', '--out', 'x.xlsx']);
    expect(xlsx.code).toBe(2);
    expect(xlsx.stderr).toMatch(/cannot run in partitions: its XLSX output cannot be continued/);
    const sqlite = await sluice(['submit', 'export-csv', '--partitions', '2', '--out', 'q.csv', '--queue-db', url, '--db', `sqlite:${dir.file('t.db')}`], { cwd: dir.path });
    expect(sqlite.code).toBe(2);
    expect(sqlite.stderr).toMatch(/A partitioned run reads one PostgreSQL snapshot from several workers; sqlite:\S+ is not PostgreSQL/);
    // `describe` says it before anyone submits.
    expect((await sluice(['describe', 'export-csv'])).stdout.toString()).toMatch(/^ {2}partitions: yes: sluice submit --partitions N/m);
    expect((await sluice(['describe', 'export-xlsx'])).stdout.toString()).toMatch(/^ {2}partitions: no: its XLSX output cannot be continued/m);
  });

  async function partitionJobs(): Promise<number> {
    const [row] = await onDatabase<{ n: string }>(url, "SELECT count(*) AS n FROM sluice_queue.job WHERE name = 'sluice-partitions'");
    return Number(row!.n);
  }

  /**
   * Submits a 2-partition run, and once its partitions are queued (the snapshot taken, the plan
   * made) holds them back with a lock on the table until `waiters` of them are waiting on it.
   * The lock is `locker`'s open transaction: COMMIT lets them go.
   */
  async function heldBack(locker: pg.Client, args: string[], waiters: number): Promise<{ readonly submitted: ReturnType<typeof submit> }> {
    const before = await partitionJobs();
    const submitted = submit(args);
    await waitFor(async () => (await partitionJobs()) >= before + 2);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE');
    await waitFor(async () => (await lockWaiters()) >= waiters);
    // Wrapped: an async function returning the promise itself would wait for it.
    return { submitted };
  }

  async function lockWaiters(): Promise<number> {
    const [row] = await adminQuery<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name = 'sluice'", [scratch.name]);
    return Number(row!.n);
  }
});

/** A query on a database of the test (the scratch one holds the queue's tables). */
async function onDatabase<T extends pg.QueryResultRow = pg.QueryResultRow>(on: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: on });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function waitFor(check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(50);
  }
}
