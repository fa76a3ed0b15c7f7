import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import type { RunSummary } from '../../src/core/metrics.ts';
import type { Row } from '../../src/core/types.ts';
import { demoTicket } from '../../raffle/demo-tickets.ts';
import { BIN, sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';
import { seedTickets, withDatabase } from '../support/tickets.ts';

const pgOk = await postgresAvailable();
const dir = scratchDir();
const scratches: ScratchDatabase[] = [];
const pipeline = await bundledPipeline('migrate-8digit-barcodes');

afterAll(async () => {
  await Promise.all(scratches.map((s) => s.drop()));
  dir.remove();
});

async function newUrl(engine: Engine, name: string): Promise<string> {
  if (engine === 'sqlite') return `sqlite:${dir.file(`${name}.db`)}`;
  const scratch = await createScratchDatabase();
  scratches.push(scratch);
  return scratch.url;
}

type Engine = 'sqlite' | 'postgres';
const ENGINES = [
  { engine: 'sqlite' as const, skip: false },
  { engine: 'postgres' as const, skip: !pgOk },
];

/**
 * 40 legacy tickets (6-7 digit barcodes) with hand-placed trouble: 3 already 8 digits, 4 invalid,
 * and 7 colliding short barcodes (two with an existing 8-digit barcode, a pair, a triple).
 */
const MIXED: Row[] = Array.from({ length: 40 }, (_, i) => demoTicket(i + 1, true));
const BARCODES: Record<number, string> = {
  2: '12345678',
  3: '00000042',
  4: '12A',
  5: '',
  6: '123456789',
  7: ' 1234',
  8: '42', // pads to 00000042, ticket 3's barcode
  9: '0777', // 9 and 10 both pad to 00000777
  10: '777',
  11: '00555', // 11, 12 and 13 all pad to 00000555
  12: '555',
  13: '0555',
  14: '00000000',
  15: '000', // pads to 00000000, ticket 14's barcode
  20: '5', // short and unique: 00000005
};
for (const [id, barcode] of Object.entries(BARCODES)) MIXED[Number(id) - 1]![2] = barcode;
const UNTOUCHED = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

const EXPECTED_REPORT = [
  ['id', 'ticket_number', 'barcode', 'reason', 'padded', 'conflicting_id'],
  ['4', 'T00000004', '12A', 'invalid: not digits', '', ''],
  ['5', 'T00000005', '', 'invalid: empty', '', ''],
  ['6', 'T00000006', '123456789', 'invalid: longer than 8 digits', '', ''],
  ['7', 'T00000007', ' 1234', 'invalid: not digits', '', ''],
  ['8', 'T00000008', '42', 'collision', '00000042', '3'],
  ['9', 'T00000009', '0777', 'collision', '00000777', '10'],
  ['10', 'T00000010', '777', 'collision', '00000777', '9'],
  ['11', 'T00000011', '00555', 'collision', '00000555', '12'],
  ['12', 'T00000012', '555', 'collision', '00000555', '11'],
  ['13', 'T00000013', '0555', 'collision', '00000555', '11'],
  ['15', 'T00000015', '000', 'collision', '00000000', '14'],
];

const SELECT_ALL = 'SELECT id, ticket_number, barcode, category, price_cents, status, buyer_name, buyer_email, buyer_phone, seller, sold_at, created_at, updated_at FROM tickets ORDER BY id';

const dump = (url: string): Promise<Row[]> => withDatabase(url, (db) => db.query({ text: SELECT_ALL, values: [] }));

async function seedMixed(engine: Engine, name: string): Promise<string> {
  const url = await newUrl(engine, name);
  await seedTickets(url, MIXED);
  return url;
}

/** A logger whose JSON lines the test can read. */
function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe.each(ENGINES)('migrate-8digit-barcodes on $engine, mixed table', ({ engine, skip }) => {
  it.skipIf(skip)('dry run: exact counts and report, nothing changed', async () => {
    const url = await seedMixed(engine, 'dry');
    const report = dir.file(`dry-${engine}.csv`);
    const { logger, lines } = captureLogger();
    const summary = await runPipeline(pipeline, { database: url, logger, params: { dryRun: true, report } });
    expect(summary.rows).toBe(0);
    expect(lines.find((l) => l.preflight)?.preflight).toEqual({ total: 40, toChange: 26, alreadyDone: 3, invalid: 4, collisions: 7 });
    expect(parse(readFileSync(report, 'utf8'))).toEqual(EXPECTED_REPORT);
    expect(await dump(url)).toEqual(MIXED);
  });

  it.skipIf(skip)('refuses with PRECONDITION_FAILED (exit 3) and the counts, changing nothing', async () => {
    const url = await seedMixed(engine, 'refuse');
    const report = dir.file(`refuse-${engine}.csv`);
    const run = runPipeline(pipeline, { database: url, params: { report } });
    await expect(run).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', exitCode: 3 });
    await expect(run).rejects.toThrow(/4 invalid barcode\(s\) and 7 collision\(s\) \(of 40 tickets, 26 to change\)/);
    expect(parse(readFileSync(report, 'utf8'))).toEqual(EXPECTED_REPORT);
    expect(await dump(url)).toEqual(MIXED);
  });

  // In the database (one UPDATE per page, what the CLI runs) and row by row in JavaScript.
  it.skipIf(skip).each([true, false])('with skip-invalid (in database: %s): pads every other short barcode, stamps updated_at, leaves the rest alone; a re-run changes nothing', async (inDatabase) => {
    const url = await seedMixed(engine, `skip-${inDatabase}`);
    const before = new Date().toISOString();
    const summary = await runPipeline(pipeline, { database: url, params: { skipInvalid: true, batchSize: 3 }, inDatabase });
    const after = new Date().toISOString();
    expect(summary.rows).toBe(26);
    expect(summary.warnings).toEqual({ 'skipped barcodes': 7, 'invalid barcodes': 4 });
    const rows = await dump(url);
    const stamp = rows[0]![12] as string;
    expect(stamp >= before.slice(0, 19) && stamp <= after).toBe(true);
    expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const expected = MIXED.map((row) => {
      if (UNTOUCHED.has(row[0] as number)) return row;
      const changed = row.slice();
      changed[2] = (row[2] as string).padStart(8, '0');
      changed[12] = stamp;
      return changed;
    });
    expect(rows).toEqual(expected);
    expect(rows[19]![2]).toBe('00000005');

    const again = await runPipeline(pipeline, { database: url, params: { skipInvalid: true }, inDatabase });
    expect(again.rows).toBe(0);
    expect(await dump(url)).toEqual(expected);
  });
});

/**
 * 12 legacy tickets whose only trouble is collisions, no invalid barcode: ticket 2's '123' pads
 * to ticket 3's '00000123' (already 8 digits), and tickets 5 and 6 ('0999', '999') pad to the
 * same 00000999. The other 8 short barcodes pad to unique values.
 */
const COLLIDING: Row[] = Array.from({ length: 12 }, (_, i) => demoTicket(i + 1, true));
const COLLIDING_BARCODES: Record<number, string> = { 2: '123', 3: '00000123', 5: '0999', 6: '999' };
for (const [id, barcode] of Object.entries(COLLIDING_BARCODES)) COLLIDING[Number(id) - 1]![2] = barcode;
const COLLIDING_UNTOUCHED = new Set([2, 3, 5, 6]);

const COLLIDING_REPORT = [
  ['id', 'ticket_number', 'barcode', 'reason', 'padded', 'conflicting_id'],
  ['2', 'T00000002', '123', 'collision', '00000123', '3'],
  ['5', 'T00000005', '0999', 'collision', '00000999', '6'],
  ['6', 'T00000006', '999', 'collision', '00000999', '5'],
];

describe.each(ENGINES)('migrate-8digit-barcodes on $engine, collisions without any invalid barcode', ({ engine, skip }) => {
  async function seedColliding(name: string): Promise<string> {
    const url = await newUrl(engine, name);
    await seedTickets(url, COLLIDING);
    return url;
  }

  it.skipIf(skip)('refuses with PRECONDITION_FAILED (exit 3 from the CLI), reports the collisions, changes nothing', async () => {
    const url = await seedColliding('collide-refuse');
    const report = dir.file(`collide-refuse-${engine}.csv`);
    const run = runPipeline(pipeline, { database: url, params: { report } });
    await expect(run).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', exitCode: 3 });
    await expect(run).rejects.toThrow(/Refusing to migrate: 0 invalid barcode\(s\) and 3 collision\(s\) \(of 12 tickets, 8 to change\)/);
    expect(parse(readFileSync(report, 'utf8'))).toEqual(COLLIDING_REPORT);
    expect(await dump(url)).toEqual(COLLIDING);

    const cli = await sluice(['run', 'migrate-8digit-barcodes', '--db', url, '--log-level', 'warn']);
    expect(cli.code, cli.stderr).toBe(3);
    expect(cli.stderr).toMatch(/Refusing to migrate: 0 invalid barcode\(s\) and 3 collision\(s\)/);
    expect(await dump(url)).toEqual(COLLIDING);
  });

  it.skipIf(skip)('with skip-invalid: pads the 8 others and leaves the colliding tickets and their partner alone', async () => {
    const url = await seedColliding('collide-skip');
    const summary = await runPipeline(pipeline, { database: url, params: { skipInvalid: true, batchSize: 3 } });
    expect(summary.rows).toBe(8);
    expect(summary.warnings).toEqual({ 'skipped barcodes': 3 });
    const rows = await dump(url);
    const stamp = rows[0]![12] as string;
    expect(stamp).not.toBe(COLLIDING[0]![12]);
    expect(rows).toEqual(
      COLLIDING.map((row) => {
        if (COLLIDING_UNTOUCHED.has(row[0] as number)) return row;
        const changed = row.slice();
        changed[2] = (row[2] as string).padStart(8, '0');
        changed[12] = stamp;
        return changed;
      }),
    );
    expect(new Set(rows.map((r) => r[2])).size).toBe(COLLIDING.length);
  });
});

describe('migrate-8digit-barcodes: CLI and backups', () => {
  it('exits 3 on refusal and 0 on a dry run, printing the counts', async () => {
    const url = await seedMixed('sqlite', 'cli');
    const refused = await sluice(['run', 'migrate-8digit-barcodes', '--db', url, '--log-level', 'warn']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/Refusing to migrate: 4 invalid barcode\(s\) and 7 collision\(s\)/);
    const dry = await sluice(['run', 'migrate-8digit-barcodes', '--db', url, '--dry-run', '--log-level', 'warn']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/to change \(pad to 8\)\s+26\n\s+already 8 digits\s+3\n\s+invalid\s+4\n\s+collisions\s+7\n/);
    expect(await dump(url)).toEqual(MIXED);
  });

  it('SQLite --backup copies the database before the first write, and never overwrites an earlier backup', async () => {
    const url = await seedMixed('sqlite', 'backup');
    const backup = dir.file('backup-copy.db');
    await runPipeline(pipeline, { database: url, params: { skipInvalid: true, backup } });
    expect(await dump(`sqlite:${backup}`)).toEqual(MIXED);
    expect(partFilesOf(backup)).toEqual([]);
    await expect(runPipeline(pipeline, { database: url, params: { skipInvalid: true, backup } })).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(await dump(`sqlite:${backup}`)).toEqual(MIXED);
  });

  it.skipIf(!pgOk)('PostgreSQL refuses --backup before doing anything', async () => {
    const url = await seedMixed('postgres', 'pg-backup');
    const run = runPipeline(pipeline, { database: url, params: { skipInvalid: true, backup: dir.file('pg.db') } });
    await expect(run).rejects.toMatchObject({ code: 'INVALID_PARAM' });
    await expect(run).rejects.toThrow(/SQLite only/);
    expect(await dump(url)).toEqual(MIXED);
  });
});

// ---- Killed mid-way (SIGKILL) and run again: the same table as an uninterrupted run ----

const BIG = 200_000;

/** Counts tickets whose barcode is already 8 digits, on a connection of the test's own. */
function changedCounter(engine: Engine, url: string): { count(): Promise<number>; close(): Promise<void> } {
  if (engine === 'sqlite') {
    const db = new BetterSqlite3(url.slice('sqlite:'.length), { readonly: true });
    const statement = db.prepare('SELECT count(*) FROM tickets WHERE length(barcode) = 8').pluck();
    return { count: async () => statement.get() as number, close: async () => void db.close() };
  }
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  return {
    count: async () => {
      await connected;
      const result = await client.query<{ n: string }>("SELECT count(*) AS n FROM tickets WHERE barcode ~ '^[0-9]{8}$'");
      return Number(result.rows[0]!.n);
    },
    close: () => client.end(),
  };
}

/** Runs the migration in a child process and SIGKILLs it once some batches are committed. */
async function killMidway(engine: Engine, url: string): Promise<number> {
  const counter = changedCounter(engine, url);
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'run', 'migrate-8digit-barcodes', '--db', url, '--batch-size', '500', '--log-level', 'warn'], {
    env: { ...process.env, DATABASE_URL: '' },
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  try {
    const deadline = Date.now() + 60_000;
    while ((await counter.count()) < 5_000 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    return await counter.count();
  } finally {
    await counter.close();
  }
}

/** All columns but updated_at, hashed in id order; and the distinct updated_at of changed rows. */
function fingerprint(rows: Row[], original: Row[]): { hash: string; stamps: Map<string, number> } {
  const hash = createHash('sha256');
  const stamps = new Map<string, number>();
  rows.forEach((row, i) => {
    hash.update(JSON.stringify(row.slice(0, 12)));
    if (row[2] !== original[i]![2]) stamps.set(row[12] as string, (stamps.get(row[12] as string) ?? 0) + 1);
    else expect(row[12]).toBe(original[i]![12]);
  });
  return { hash: hash.digest('hex'), stamps };
}

async function seedBig(url: string): Promise<void> {
  const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', url, '--count', String(BIG), '--legacy-barcodes', '--reset', '--log-level', 'warn']);
  if (code !== 0) throw new Error(stderr);
}

async function migrate(url: string, metrics: string): Promise<RunSummary> {
  const { code, stderr } = await sluice(['run', 'migrate-8digit-barcodes', '--db', url, '--batch-size', '500', '--log-level', 'warn', '--metrics', metrics]);
  expect(code, stderr).toBe(0);
  return JSON.parse(readFileSync(metrics, 'utf8')) as RunSummary;
}

describe.each(ENGINES)('migrate-8digit-barcodes on $engine, killed with SIGKILL', ({ engine, skip }) => {
  const urls = { whole: '', killed: '', small: '' };
  beforeAll(async () => {
    if (skip) return;
    urls.whole = await newUrl(engine, 'whole');
    urls.killed = await newUrl(engine, 'killed');
    urls.small = await newUrl(engine, 'small');
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', urls.small, '--count', String(BIG / 10), '--legacy-barcodes', '--reset', '--log-level', 'warn']);
    if (code !== 0) throw new Error(stderr);
    if (engine === 'sqlite') {
      await seedBig(urls.whole);
      copyFileSync(urls.whole.slice('sqlite:'.length), urls.killed.slice('sqlite:'.length));
    } else {
      // The generator is deterministic: two seeds are the same table.
      await Promise.all([seedBig(urls.whole), seedBig(urls.killed)]);
    }
  }, 240_000);

  it.skipIf(skip)('then run again: exactly the table of an uninterrupted run, barcodes unique throughout', async () => {
    const original = await dump(urls.whole);
    expect(original).toHaveLength(BIG);

    const whole = await migrate(urls.whole, dir.file(`whole-${engine}.json`));
    expect(whole.rows).toBe(BIG);
    // Bounded memory: ten times the tickets add far less than holding them would (the old script
    // loaded every ticket: 200,000 rows take about 150 MB in JavaScript). The allowance is for
    // V8 letting promoted garbage pile up to its old-generation limit before collecting it.
    const small = await migrate(urls.small, dir.file(`small-${engine}.json`));
    expect(small.rows).toBe(BIG / 10);
    const growthMb = (whole.peakRssBytes - small.peakRssBytes) / 2 ** 20;
    expect(growthMb, `peak RSS ${small.peakRssBytes >> 20} MB -> ${whole.peakRssBytes >> 20} MB`).toBeLessThan(64);

    const changedBeforeKill = await killMidway(engine, urls.killed);
    expect(changedBeforeKill).toBeGreaterThanOrEqual(500);
    expect(changedBeforeKill).toBeLessThan(BIG);
    // Whole batches only: every row is either as it was or fully migrated.
    const midway = await dump(urls.killed);
    midway.forEach((row, i) => {
      const before = original[i]!;
      const padded = (before[2] as string).padStart(8, '0');
      expect(row[2] === before[2] ? row[12] === before[12] : row[2] === padded).toBe(true);
    });

    const rerun = await sluice(['run', 'migrate-8digit-barcodes', '--db', urls.killed, '--batch-size', '500', '--log-level', 'warn']);
    expect(rerun.code, rerun.stderr).toBe(0);

    const expected = fingerprint(await dump(urls.whole), original);
    const resumed = fingerprint(await dump(urls.killed), original);
    expect(resumed.hash).toBe(expected.hash);
    expect([...expected.stamps.values()]).toEqual([BIG]);
    // The killed run's rows keep its stamp; the re-run stamped the rest.
    expect(resumed.stamps.size).toBe(2);
    expect([...resumed.stamps.values()].reduce((a, b) => a + b)).toBe(BIG);
    const rows = await dump(urls.killed);
    expect(new Set(rows.map((r) => r[2])).size).toBe(BIG);
    expect(rows.every((r) => /^\d{8}$/.test(r[2] as string))).toBe(true);
  }, 240_000);
});

describe.each(ENGINES)('migrate-8digit-barcodes on $engine, aborted: the summary counts what was committed', ({ engine, skip }) => {
  it.skipIf(skip).each([
    ['in place', true],
    ['row by row', false],
  ])('%s', async (_path, inDatabase) => {
    const url = await newUrl(engine, `aborted-${inDatabase}`);
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', url, '--count', '20000', '--legacy-barcodes', '--reset', '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
    const counter = changedCounter(engine, url);
    let aborted = 0;
    try {
      for (const delayMs of [15, 40, 70, 100, 150]) {
        const before = await counter.count();
        const controller = new AbortController();
        setTimeout(() => controller.abort(), delayMs);
        const outcome = await runPipeline(pipeline, { database: url, params: { batchSize: 50 }, signal: controller.signal, inDatabase }).then(
          (summary) => ({ summary, code: 'OK' }),
          (error: { summary: RunSummary; code: string }) => ({ summary: error.summary, code: error.code }),
        );
        if (outcome.code === 'ABORTED') aborted++;
        expect(outcome.summary.rows, `abort after ${delayMs} ms (${outcome.code})`).toBe((await counter.count()) - before);
      }
    } finally {
      await counter.close();
    }
    expect(aborted).toBeGreaterThan(0);
  });
});
