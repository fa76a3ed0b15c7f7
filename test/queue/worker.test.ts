import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { type RunRecord, RunHistory } from '../../src/ops/run-history.ts';
import { sluice } from '../support/cli.ts';
import { type Daemon, startDaemon } from '../support/daemon.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';

const FIXTURES = new URL('../fixtures/ops/', import.meta.url).pathname;
const dir = scratchDir('sluice-queue-');
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase;
let url = '';

beforeAll(async () => {
  if (!pgOk) return;
  scratch = await createScratchDatabase();
  url = scratch.url;
  await seedTickets(url);
  const seeded = await sluice(['run', 'seed-tickets', '--db', url, '--count', '3000', '--log-level', 'warn']);
  expect(seeded.code, seeded.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

/** A `sluice worker` process on the scratch database's queue, once it takes jobs. */
function startWorker(extra: string[] = []): Promise<Daemon> {
  return startDaemon(['worker', '--queue-db', url, '--db', url, '--pipelines', FIXTURES, '--log-level', 'info', ...extra], /taking jobs/, {
    cwd: dir.path,
    env: { DATABASE_URL: '', SLUICE_QUEUE_MAINTENANCE_SECONDS: '1' },
  });
}

function submit(args: string[]) {
  return sluice(['submit', ...args, '--queue-db', url, '--pipelines', FIXTURES], { cwd: dir.path, env: { DATABASE_URL: '' } });
}

async function workerRuns(): Promise<RunRecord[]> {
  const db = openDatabase(url);
  try {
    return (await RunHistory.reader(db).list({ limit: 1000 })).filter((run) => run.trigger === 'worker');
  } finally {
    await db.close();
  }
}

const SLOW_NUMBERS = (batches: number) => ['n', ...Array.from({ length: batches * 10 }, (_, i) => String(i)), ''].join('\n');

describe.skipIf(!pgOk)('sluice worker and sluice submit (pg-boss)', () => {
  it('runs submitted exports on any of several workers, byte-identical to sluice run, recorded as worker runs', async () => {
    const pool = await Promise.all([startWorker(), startWorker(), startWorker()]);
    const statuses = ['sold', 'available', 'void'];
    const submitted = await Promise.all(statuses.map((status) => submit(['export-csv', '--status', status, '--db', url, '--out', `q-${status}.csv`, '--wait'])));
    for (const [i, status] of statuses.entries()) {
      expect(submitted[i]!.code, submitted[i]!.stderr).toBe(0);
      expect(submitted[i]!.stdout.toString()).toMatch(new RegExp(`^succeeded: [\\d,]+ rows -> ${dir.file(`q-${status}.csv`)} \\(run \\S+\\)\\n$`));
      const expected = await sluice(['run', 'export-csv', '--status', status, '--db', url, '--out', '-', '--no-history']);
      expect(readFileSync(dir.file(`q-${status}.csv`)).equals(expected.stdout)).toBe(true);
    }
    expect(await Promise.all(pool.map((w) => w.stop()))).toEqual([0, 0, 0]);
    const runs = await workerRuns();
    expect(runs.filter((run) => run.pipeline === 'export-csv' && run.status === 'succeeded')).toHaveLength(3);
    expect(runs.every((run) => run.job?.startsWith('queue:'))).toBe(true);
  });

  it('ends a run that cannot succeed at once, without retries: refused is exit 3; a seed creates its SQLite file', async () => {
    const worker = await startWorker();
    const empty = `sqlite:${dir.file('empty.db')}`;
    expect((await sluice(['db', 'init', '--db', empty])).code).toBe(0);
    const refused = await submit(['export-csv', '--db', empty, '--out', 'never.csv', '--wait', '--json']);
    expect(refused.code).toBe(3);
    const result = JSON.parse(refused.stdout.toString()) as { state: string; attempts: number; result: { status: string; error: { code: string } } };
    expect(result).toMatchObject({ state: 'completed', attempts: 1, result: { status: 'refused', error: { code: 'NO_ROWS' } } });
    // A pipeline that creates its database does so on a worker too, as under `sluice run`.
    const seeded = await submit(['seed-tickets', '--db', `sqlite:${dir.file('seeded-by-worker.db')}`, '--count', '120', '--wait']);
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(seeded.stdout.toString()).toMatch(/^succeeded: 120 rows/);
    expect(await worker.stop()).toBe(0);
  });

  it('loses nothing when a worker is SIGKILLed mid-run: the job expires and another worker runs it to the exact file', async () => {
    const doomed = await startWorker();
    const submitted = submit(['slow-numbers', '--batches', '30', '--pause-ms', '100', '--out', 'killed.csv', '--expire', '10', '--wait']);
    for (let i = 0; i < 100 && !doomed.stderr().includes('"msg":"job '); i++) await sleep(100);
    await sleep(500);
    expect(await doomed.stop('SIGKILL')).toBe(null);
    const rescuer = await startWorker();
    const result = await submitted;
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(dir.file('killed.csv'), 'utf8')).toBe(SLOW_NUMBERS(30));
    expect(result.stderr).toMatch(/retry 1/);
    expect(await rescuer.stop()).toBe(0);
  }, 60_000);

  it('drains on SIGTERM: a running job finishes; past --shutdown-timeout it is handed back and another worker finishes it', async () => {
    const first = await startWorker();
    const finishing = submit(['slow-numbers', '--batches', '15', '--pause-ms', '100', '--out', 'drained.csv', '--wait']);
    for (let i = 0; i < 100 && !first.stderr().includes('"msg":"job '); i++) await sleep(100);
    expect(await first.stop()).toBe(0);
    expect((await finishing).code).toBe(0);
    expect(readFileSync(dir.file('drained.csv'), 'utf8')).toBe(SLOW_NUMBERS(15));
    expect(first.stderr()).toContain('drained: 1 finished, 0 aborted');

    const impatient = await startWorker(['--shutdown-timeout', '1']);
    const handedBack = submit(['slow-numbers', '--batches', '40', '--pause-ms', '100', '--out', 'handed.csv', '--wait']);
    for (let i = 0; i < 100 && !impatient.stderr().includes('"msg":"job '); i++) await sleep(100);
    expect(await impatient.stop()).toBe(0);
    expect(impatient.stderr()).toContain('drained: 0 finished, 1 aborted');
    const next = await startWorker();
    expect((await handedBack).code).toBe(0);
    expect(readFileSync(dir.file('handed.csv'), 'utf8')).toBe(SLOW_NUMBERS(40));
    expect(await next.stop()).toBe(0);
    const statuses = (await workerRuns()).filter((run) => run.output?.endsWith('handed.csv')).map((run) => run.status);
    expect(statuses.sort()).toEqual(['aborted', 'succeeded']);
  }, 60_000);

  it('feeds the workers from a schedule with "via": "queue": every run on a worker, never two at once, overlapping fires skipped', async () => {
    const worker = await startWorker(['--concurrency', '2']);
    const config = dir.file('queued-schedule.json');
    const job = { name: 'queued-numbers', cron: '* * * * * *', via: 'queue', pipeline: 'slow-numbers', params: { batches: 15, pauseMs: 100 }, db: url, out: 'queued/{name}-{runId}.csv' };
    writeFileSync(config, JSON.stringify({ queue: url, jobs: [job] }));
    const scheduler = await startDaemon(['schedule', '--config', config, '--pipelines', FIXTURES, '--log-level', 'info'], /job scheduled/, { cwd: dir.path, env: { DATABASE_URL: '' } });
    let done: RunRecord[] = [];
    for (let i = 0; i < 150 && done.length < 2; i++) {
      await sleep(100);
      done = (await workerRuns()).filter((run) => run.job === 'queued-numbers' && run.status === 'succeeded');
    }
    expect(await scheduler.stop()).toBe(0);
    expect(await worker.stop()).toBe(0);
    expect(done.length).toBeGreaterThanOrEqual(2);
    for (const run of done) expect(readFileSync(run.output!, 'utf8')).toBe(SLOW_NUMBERS(15));
    // One at a time although the worker could take two: fires while a run waits or runs are skipped.
    const ran = (await workerRuns()).filter((run) => run.job === 'queued-numbers' && run.status === 'succeeded').sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (let i = 1; i < ran.length; i++) expect(ran[i]!.startedAt >= ran[i - 1]!.finishedAt!).toBe(true);
    const db = openDatabase(url);
    const skipped = (await RunHistory.reader(db).list({ job: 'queued-numbers', status: 'skipped', limit: 100 }).finally(() => db.close())).length;
    expect(skipped).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
