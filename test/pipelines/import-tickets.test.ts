import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../src/core/types.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';
import { BIN, sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, seedTickets, withDatabase } from '../support/tickets.ts';

const pgOk = await postgresAvailable();
const dir = scratchDir('sluice-import-');
const scratches: ScratchDatabase[] = [];

afterAll(async () => {
  await Promise.all(scratches.map((s) => s.drop()));
  dir.remove();
});

let databases = 0;
/** An empty tickets table of its own on the engine. */
async function emptyTable(engine: string): Promise<string> {
  const url = engine === 'sqlite' ? `sqlite:${dir.file(`empty-${++databases}.db`)}` : (scratches[scratches.push(await createScratchDatabase()) - 1]!).url;
  expect((await sluice(['db', 'init', '--db', url])).code).toBe(0);
  return url;
}

async function table(url: string): Promise<Row[]> {
  return withDatabase(url, (db) => db.query({ text: `SELECT ${TICKET_COLUMNS.map((c) => c.name).join(', ')} FROM tickets ORDER BY id`, values: [] }));
}

const engines = pgOk ? ['sqlite', 'postgres'] : ['sqlite'];
let source = '';

beforeAll(async () => {
  source = `sqlite:${dir.file('awkward.db')}`;
  await seedTickets(source);
}, 60_000);

describe.each(engines)('import-tickets into %s', (engine) => {
  it.each(['csv', 'ndjson', 'xlsx'])('gives back the identical table from its own %s export, NULL and empty text apart', async (format) => {
    const file = dir.file(`awkward-${engine}.${format}`);
    expect((await sluice(['run', `export-${format}`, '--db', source, '--out', file])).code).toBe(0);
    const url = await emptyTable(engine);
    const imported = await sluice(['run', 'import-tickets', '--db', url, '--in', file, '--no-strict-barcodes', '--log-level', 'warn']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(await table(url)).toEqual(AWKWARD_TICKETS);
  });

  it('rejects each bad row with its line and reason, writes the good ones, and counts both', async () => {
    const header = TICKET_COLUMNS.map((c) => c.name).join(',');
    const good = (id: number) => `${id},T-${id},${String(id).padStart(8, '0')},vip,100,sold,Name ${id},,,,2026-01-01T00:00:00Z,2026-01-01T00:00:00.5+02:00,2026-01-01 00:00:00`;
    const lines = [
      header,
      good(1),
      '2,T-2,00000002,vip,cheap,sold,,,,,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z',
      '3,T-3,00000003,vip,100,lost,,,,,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z',
      '4,T-4,00000004,vip,100,sold,,,,,,yesterday,2026-01-01T00:00:00Z',
      '5,T-5,1234,vip,100,sold,,,,,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z',
      ',T-6,00000006,vip,100,sold,,,,,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z',
      '7,T-7,00000007,vip',
      good(8).replace(',Name 8,', ',"Two\nLines",'),
      good(1).replace('T-1,00000001', 'T-1b,00000011'),
    ];
    const file = dir.file(`bad-${engine}.csv`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const url = await emptyTable(engine);
    const rejects = dir.file(`rejects-${engine}.csv`);
    const metrics = dir.file(`metrics-${engine}.json`);
    const run = await sluice(['run', 'import-tickets', '--db', url, '--in', file, '--rejects', rejects, '--metrics', metrics, '--log-level', 'warn']);
    expect(run.code, run.stderr).toBe(0);
    const [head, ...rows] = parse(readFileSync(rejects)) as string[][];
    expect(head).toEqual(['where', 'reason', 'values']);
    expect(rows.map(([where, reason]) => [where, reason])).toEqual([
      ['line 3', 'bad integer for price_cents: cheap is not an integer'],
      ['line 4', 'status lost is not one of available, sold, void, redeemed'],
      ['line 5', 'bad timestamp for created_at: yesterday is not an ISO-8601 timestamp'],
      ['line 6', 'barcode 1234 is not 8 digits'],
      ['line 7', 'missing required id'],
      ['line 8', '4 field(s) where the header has 13'],
      ['id 1', 'id 1 appears twice in the input'],
    ]);
    expect(JSON.parse(rows[0]![2]!)).toMatchObject({ id: '2', price_cents: 'cheap', buyer_name: null });
    expect((await table(url)).map((row) => [row[0], row[6], row[11]])).toEqual([
      [1, 'Name 1', '2025-12-31T22:00:00.500Z'],
      [8, 'Two\nLines', '2025-12-31T22:00:00.500Z'],
    ]);
    const summary = JSON.parse(readFileSync(metrics, 'utf8')) as { notes: { import: unknown }; warnings: Record<string, number> };
    expect(summary.notes.import).toEqual({ inserted: 2, updated: 0, skipped: 0, rejected: 1 });
    expect(summary.warnings.rejected).toBe(7);
  });

  it('--dry-run validates and counts, and writes nothing; --max-rejects stops with exit 3', async () => {
    const file = dir.file(`dry-${engine}.ndjson`);
    expect((await sluice(['run', 'export-ndjson', '--db', source, '--out', file])).code).toBe(0);
    const url = await emptyTable(engine);
    const metrics = dir.file(`dry-${engine}.json`);
    const dry = await sluice(['run', 'import-tickets', '--db', url, '--in', file, '--dry-run', '--metrics', metrics, '--log-level', 'warn']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(readFileSync(metrics, 'utf8')).notes).toEqual({ 'import (dry run: nothing written)': { inserted: 5, updated: 0, skipped: 0, rejected: 0 } });
    expect(await table(url)).toEqual([]);
    const stopped = await sluice(['run', 'import-tickets', '--db', url, '--in', file, '--max-rejects', '0', '--log-level', 'warn']);
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toContain('More than 0 row(s) rejected (the last: line 4: barcode 0000000A is not 8 digits); the import stopped.');
  });
});

describe.each(engines)('import-tickets --atomic into %s', (engine) => {
  it('writes every row or none: one rejected row leaves the table untouched (exit 3), a clean file commits whole', async () => {
    const file = dir.file(`atomic-${engine}.csv`);
    expect((await sluice(['run', 'export-csv', '--db', source, '--out', file])).code).toBe(0);
    const url = await emptyTable(engine);
    const refused = await sluice(['run', 'import-tickets', '--db', url, '--in', file, '--atomic', '--batch-size', '2', '--log-level', 'warn']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('1 row(s) rejected: with --atomic nothing was written');
    expect(await table(url)).toEqual([]);
    const whole = await sluice(['run', 'import-tickets', '--db', url, '--in', file, '--atomic', '--no-strict-barcodes', '--batch-size', '2', '--log-level', 'warn']);
    expect(whole.code, whole.stderr).toBe(0);
    expect(await table(url)).toEqual(AWKWARD_TICKETS);
  });
});

/** 60,000 tickets as CSV, made once for both engines. */
let bigCsv: Promise<string> | undefined;
function bigFile(): Promise<string> {
  bigCsv ??= (async () => {
    const seeded = `sqlite:${dir.file('big.db')}`;
    expect((await sluice(['run', 'seed-tickets', '--db', seeded, '--count', '60000', '--log-level', 'warn'])).code).toBe(0);
    const file = dir.file('big.csv');
    expect((await sluice(['run', 'export-csv', '--db', seeded, '--out', file, '--log-level', 'warn'])).code).toBe(0);
    return file;
  })();
  return bigCsv;
}

describe.each(engines)('import-tickets killed with SIGKILL on %s', (engine) => {
  let big = '';
  beforeAll(async () => {
    big = await bigFile();
  }, 120_000);

  async function count(url: string): Promise<number> {
    return withDatabase(url, async (db) => Number((await db.query({ text: 'SELECT count(*) FROM tickets', values: [] }))[0]![0]));
  }

  /** Starts the import, SIGKILLs it once `ready` says so (or after a while); returns the table's ids and how long the import ran. */
  async function killedImport(url: string, extra: string[], ready: () => Promise<boolean>): Promise<{ ids: number[]; ranMs: number }> {
    const started = Date.now();
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'run', 'import-tickets', '--db', url, '--in', big, '--batch-size', '500', '--log-level', 'warn', ...extra], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    for (let i = 0; i < 200 && !(await ready()); i++) await sleep(25);
    child.kill('SIGKILL');
    const ranMs = Date.now() - started;
    await exited;
    const ids = await withDatabase(url, async (db) => (await db.query({ text: 'SELECT id FROM tickets ORDER BY id', values: [] })).map((row) => Number(row[0])));
    return { ids, ranMs };
  }

  it('keeps only whole committed batches without --atomic, and nothing with it', async () => {
    const url = await emptyTable(engine);
    const { ids, ranMs } = await killedImport(url, [], async () => (await count(url)) >= 2000);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(60_000);
    expect(ids.length % 500).toBe(0);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));

    // Killed after as long as the first import took to commit its first few thousand rows of
    // 60,000: well inside the one transaction, however fast the machine.
    const atomic = await emptyTable(engine);
    const started = Date.now();
    const { ids: none } = await killedImport(atomic, ['--atomic'], async () => Date.now() - started >= ranMs);
    expect(none).toEqual([]);
  }, 120_000);
});
