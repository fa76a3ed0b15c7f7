import { type MetricFamily, parseMetrics, sampleValue } from '../support/prometheus.ts';
import { type Daemon, startDaemon } from '../support/daemon.ts';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { RunHistory, type RunRecord } from '../../src/ops/run-history.ts';
import { acquireRunLock } from '../../src/ops/run-lock.ts';
import { sluice } from '../support/cli.ts';
import { seededEngines } from '../support/engines.ts';
import { seedTickets } from '../support/tickets.ts';

const FIXTURES = new URL('../fixtures/ops/', import.meta.url).pathname;
const { engines, dir } = await seededEngines('sluice-schedule-');


let configs = 0;
function writeSchedule(schedule: unknown): string {
  const path = dir.file(`schedule-${++configs}.json`);
  writeFileSync(path, JSON.stringify(schedule));
  return path;
}

function startSchedule(config: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  return startDaemon(['schedule', '--config', config, '--pipelines', FIXTURES, '--log-level', 'info', ...extra], /jobs? scheduled/, { cwd: dir.path, env: { DATABASE_URL: '', ...env } });
}

/** `/metrics` of a scheduler started with `--metrics-port 0`, parsed strictly; `/healthz` answers too. */
async function scrape(scheduled: Daemon): Promise<Map<string, MetricFamily>> {
  const base = /metrics on (http:\/\/[^/\s]+)\/metrics/.exec(scheduled.stderr())![1]!;
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const reply = await fetch(`${base}/metrics`);
  expect(reply.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await reply.text());
}

async function runsOf(url: string, job: string): Promise<RunRecord[]> {
  const db = openDatabase(url);
  try {
    return await RunHistory.reader(db).list({ job, limit: 1000 });
  } catch {
    return [];
  } finally {
    await db.close();
  }
}

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs = 15_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > end) return value;
    await sleep(100);
  }
}

describe('sluice schedule --check', () => {
  it("validates the whole schedule and prints each job's next five fire times", async () => {
    const config = writeSchedule({ timezone: 'Europe/Paris', jobs: [{ name: 'nightly', cron: '0 2 * * *', pipeline: 'export-csv', params: { status: 'sold' }, out: 'exports/{name}-{date}.csv' }] });
    const result = await sluice(['schedule', '--config', config, '--check'], { cwd: dir.path });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const times = result.stdout.toString().match(/^ {2}\d{4}-\d\d-\d\d 02:00:00 Europe\/Paris$/gm);
    expect(times).toHaveLength(5);
  });

  it('rejects every mistake at once, each error naming the job and the field, with the parameters\' own error text', async () => {
    const config = writeSchedule({
      jobs: [
        { name: 'a', cron: '*/2 * * *', pipeline: 'export-cvs', out: 'x/{nme}.csv', retries: { count: 20 } },
        { name: 'b', cron: '0 2 * * *', pipeline: 'export-csv', params: { status: 'lost' }, timezone: 'Mars/Base' },
        { name: 'b', cron: '0 3 * * *', pipeline: 'export-csv', timeoutSeconds: -1 },
        { cron: '0 2 * * *', pipeline: 'migrate-8digit-barcodes', out: 'a.csv' },
        { name: 'c', cron: '0 4 * * *', pipeline: 'export-csv', via: 'queue' },
        { name: 'd', cron: '0 5 * * *', pipeline: 'export-csv', via: 'cloud' },
        { name: 'e', cron: '0 6 * * *', pipeline: 'export-csv', partitions: 4 },
        { name: 'f', cron: '0 7 * * *', pipeline: 'export-xlsx', via: 'queue', partitions: 4, out: 'x.xlsx' },
        { name: 'g', cron: '0 8 * * *', pipeline: 'export-csv', via: 'queue', partitions: 2, db: 'sqlite:t.db' },
      ],
    });
    const result = await sluice(['schedule', '--config', config, '--check'], { cwd: dir.path });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n').slice(1).map((line) => line.trim());
    expect(lines).toEqual([
      expect.stringMatching(/^job "a": "cron": .*five, six, or seven/),
      'job "a": "pipeline": no pipeline "export-cvs". Did you mean "export-csv"? `sluice list` shows them.',
      'job "a": "out": unknown placeholder {nme} (known: {name}, {pipeline}, {date}, {time}, {runId}, {ext}).',
      'job "a": "retries.count": must be a whole number from 0 to 10.',
      'job "b": "timezone": must be an IANA time zone such as "Europe/Paris" or "UTC".',
      'job "b": "params": Invalid value for "params.status": expected one of available, sold, void, redeemed, got "lost".',
      'job "b": "timeoutSeconds": must be a whole number of seconds from 1 to 604800.',
      'jobs[3]: "name": must be a name of letters, digits, ".", "_" or "-" (at most 100).',
      'jobs[3]: "out": pipeline "migrate-8digit-barcodes" writes to the database; it has no output file.',
      'job "d": "via": must be "process" (the scheduler runs it) or "queue" (sluice worker processes run it).',
      'job "e": "partitions": needs "via": "queue": the partitions are run by `sluice worker` processes.',
      'job "f": "partitions": pipeline "export-xlsx" cannot run in partitions: its XLSX output cannot be continued (a run starts it from the beginning).',
      'job "g": "partitions": A partitioned run reads one PostgreSQL snapshot from several workers; sqlite:t.db is not PostgreSQL: run it without partitions.',
      'job "c": "via": "queue" needs the job queue: "queue": "postgres://..." at the top of the file, or --queue-db / SLUICE_QUEUE_URL.',
    ]);
    expect(result.stderr).toContain('has 14 errors');
  });

  it('reads YAML too', async () => {
    const path = dir.file('schedule.yaml');
    writeFileSync(path, 'jobs:\n  - name: every-minute\n    cron: "* * * * *"\n    pipeline: export-all-barcodes\n');
    const result = await sluice(['schedule', '--config', path, '--check'], { cwd: dir.path });
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toContain('every-minute');
  });
});

describe.each(engines)('sluice schedule on %s', (engine, url) => {
  it('fires a seconds-level job, writes the file a run writes, records it, and drains on SIGTERM', async () => {
    const job = `csv-${engine}`;
    const config = writeSchedule({ jobs: [{ name: job, cron: '* * * * * *', pipeline: 'export-csv', params: { status: 'sold' }, db: url, out: `out/{name}/{date}-{time}-{runId}.{ext}` }] });
    const started = Date.now();
    const scheduled = await startSchedule(config, ['--metrics-port', '0']);
    const runs = await until(() => runsOf(url, job), (r) => r.some((run) => run.status === 'succeeded'));
    const metrics = await scrape(scheduled);
    expect(sampleValue(metrics, 'sluice_job_last_success_timestamp_seconds', { job })! * 1000).toBeGreaterThan(started);
    expect(sampleValue(metrics, 'sluice_job_runs_total', { job, status: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, 'sluice_runs_finished_total', { pipeline: 'export-csv', status: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(metrics.has('process_resident_memory_bytes')).toBe(true);
    expect(await scheduled.stop()).toBe(0);
    const done = runs.find((run) => run.status === 'succeeded')!;
    expect(done).toMatchObject({ trigger: 'schedule', job, attempt: 1, params: { status: 'sold' } });
    expect(done.output).toMatch(new RegExp(`^out/${job}/\\d{4}-\\d\\d-\\d\\d-\\d{6}-${done.id}\\.csv$`));
    const expected = await sluice(['run', 'export-csv', '--status', 'sold', '--db', url, '--out', '-', '--no-history'], { cwd: dir.path });
    expect(readFileSync(join(dir.path, done.output!)).equals(expected.stdout)).toBe(true);
  });

  it('runs a job once per fire when two scheduler processes share the database', async () => {
    const job = `twice-${engine}`;
    const config = writeSchedule({ jobs: [{ name: job, cron: '*/2 * * * * *', pipeline: 'slow-numbers', params: { batches: 5, pauseMs: 150 }, db: url, out: `out/{name}-{runId}.csv` }] });
    const [a, b] = await Promise.all([startSchedule(config, ['--metrics-port', '0']), startSchedule(config, ['--metrics-port', '0'])]);
    // A scheduled run and its skips are named after the fire (the id's time stamp), however late each process runs it.
    const byFire = (runs: RunRecord[]) => {
      const fires = new Map<string, string[]>();
      for (const run of runs.filter((r) => r.status !== 'running')) fires.set(run.id.split('-')[0]!, [...(fires.get(run.id.split('-')[0]!) ?? []), run.status]);
      return [...fires.values()];
    };
    await until(() => runsOf(url, job), (r) => byFire(r).filter((statuses) => statuses.length === 2).length >= 2, 30_000);
    const scraped = await Promise.all([scrape(a), scrape(b)]);
    const skipped = scraped.map((m) => sampleValue(m, 'sluice_job_skipped_total', { job, reason: 'taken' })! + sampleValue(m, 'sluice_job_skipped_total', { job, reason: 'overlap' })!);
    expect(skipped[0]! + skipped[1]!).toBeGreaterThanOrEqual(2);
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    const fires = byFire((await runsOf(url, job)).filter((run) => run.status !== 'aborted'));
    for (const statuses of fires) expect(statuses.filter((status) => status === 'succeeded').length).toBeLessThanOrEqual(1);
    for (const statuses of fires.filter((s) => s.length === 2)) expect(statuses.sort()).toEqual(['skipped', 'succeeded']);
  });

  it('lets a running job finish on SIGTERM, and aborts it cleanly past --shutdown-timeout', async () => {
    const job = `drain-${engine}`;
    const out = `out/${job}-{runId}.csv`;
    const finishing = writeSchedule({ jobs: [{ name: job, cron: '* * * * * *', pipeline: 'slow-numbers', params: { batches: 12, pauseMs: 100 }, db: url, out }] });
    const first = await startSchedule(finishing);
    await until(() => runsOf(url, job), (r) => r.some((run) => run.status === 'running'));
    expect(await first.stop()).toBe(0);
    const finished = (await runsOf(url, job)).filter((run) => run.status === 'succeeded');
    expect(finished).toHaveLength(1);
    expect(readFileSync(join(dir.path, finished[0]!.output!), 'utf8').split('\n')).toHaveLength(122);

    const long = writeSchedule({ jobs: [{ name: `${job}-long`, cron: '* * * * * *', pipeline: 'slow-numbers', params: { batches: 600, pauseMs: 100 }, db: url, out }] });
    const second = await startSchedule(long, ['--shutdown-timeout', '1']);
    const running = await until(() => runsOf(url, `${job}-long`), (r) => r.some((run) => run.status === 'running'));
    const started = Date.now();
    expect(await second.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(6000);
    const aborted = await runsOf(url, `${job}-long`);
    expect(aborted.find((run) => run.id === running[0]!.id)?.status).toBe('aborted');
    expect(second.stderr()).toContain('drained: 0 finished, 1 aborted');
    expect(readdirSync(join(dir.path, 'out')).filter((f) => f.includes(`${job}-long`) || f.endsWith('.part'))).toEqual([]);
  });

  it('sluice run --lock exits 75 while another run holds the lock, and runs once it is free', async () => {
    const db = openDatabase(url);
    try {
      const held = await acquireRunLock(db, 'export-csv', { owner: 'test' });
      const blocked = await sluice(['run', 'export-csv', '--lock', '--db', url, '--out', dir.file(`locked-${engine}.csv`)], { cwd: dir.path });
      expect(blocked.code).toBe(75);
      expect(blocked.stderr).toContain('Another run holds the lock "export-csv"');
      expect(existsSync(dir.file(`locked-${engine}.csv`))).toBe(false);
      const named = await sluice(['run', 'export-csv', '--lock=nightly', '--db', url, '--out', dir.file(`named-${engine}.csv`), '--log-level', 'warn'], { cwd: dir.path });
      expect(named.code).toBe(0);
      await held!.release();
      const free = await sluice(['run', 'export-csv', '--lock', '--db', url, '--out', dir.file(`locked-${engine}.csv`), '--log-level', 'warn'], { cwd: dir.path });
      expect(free.code).toBe(0);
    } finally {
      await db.close();
    }
  });
});

describe('a SQLite lease', () => {
  it('outlives a SIGKILLed holder only until it expires; the next fire runs, and the dead run reads as abandoned', async () => {
    const url = `sqlite:${dir.file('lease.db')}`;
    await seedTickets(url);
    const job = 'leased';
    const config = writeSchedule({ lockLeaseSeconds: 2, jobs: [{ name: job, cron: '* * * * * *', pipeline: 'slow-numbers', params: { batches: 600, pauseMs: 100 }, db: url, out: 'out/{name}-{runId}.csv' }] });
    const env = { SLUICE_HEARTBEAT_SECONDS: '1' };
    const holder = await startSchedule(config, [], env);
    const [first] = await until(() => runsOf(url, job), (r) => r.some((run) => run.status === 'running'));
    const taker = await startSchedule(config, ['--shutdown-timeout', '0'], env);
    expect(await holder.stop('SIGKILL')).toBe(null);
    const killedAt = Date.now();
    const runs = await until(() => runsOf(url, job), (r) => r.some((run) => run.id !== first!.id && run.status === 'running'));
    const next = runs.find((run) => run.id !== first!.id && run.status === 'running')!;
    expect(Date.parse(next.startedAt) - killedAt).toBeLessThan(4500);
    expect(runs.some((run) => run.status === 'skipped' && Date.parse(run.startedAt) >= killedAt - 1000)).toBe(true);
    const dead = await until(() => runsOf(url, job), (r) => r.find((run) => run.id === first!.id)?.status === 'abandoned', 6000);
    expect(dead.find((run) => run.id === first!.id)?.status).toBe('abandoned');
    expect(await taker.stop()).toBe(0);
  });
});
