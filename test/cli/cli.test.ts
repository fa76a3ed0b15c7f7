import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';

const dir = scratchDir();
const db = `sqlite:${dir.file('t.db')}`;
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase | undefined;

beforeAll(async () => {
  await seedTickets(db);
  const empty = openDatabase(`sqlite:${dir.file('empty.db')}`, { create: true });
  await empty.exec('CREATE TABLE unrelated (x)');
  await empty.close();
  if (pgOk) scratch = await createScratchDatabase();
});

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

/** An error is one line on stderr: no stack trace. */
function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr.trim()).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('sluice CLI', () => {
  it('lists the pipelines', async () => {
    const { code, stdout } = await sluice(['list']);
    expect(code).toBe(0);
    for (const name of ['seed-tickets', 'export-all-tickets', 'number-barcode', 'export-all-barcodes', 'export-csv']) expect(stdout.toString()).toContain(name);
  });

  it('describes a pipeline with its parameters, defaults and output', async () => {
    const { code, stdout } = await sluice(['describe', 'export-csv']);
    expect(code).toBe(0);
    const text = stdout.toString();
    for (const flag of ['--status', '--category', '--seller', '--sold-from', '--sold-to', '--q', '--limit', '--bom', '--escape-formulas', '--batch-size']) expect(text).toContain(flag);
    expect(text).toContain('out/export-csv.csv');
    expect(text).toMatch(/--batch-size\s+an integer from 1 to 50000\s+1000/);
    expect(text).not.toContain('runs:');
  });

  it('says when the database runs the whole pipeline in place', async () => {
    const { code, stdout } = await sluice(['describe', 'migrate-8digit-barcodes']);
    expect(code).toBe(0);
    expect(stdout.toString()).toContain('runs:       in the database, one UPDATE per page of keys');
  });

  it('`run <pipeline> --help` lists the pipeline parameters as flags', async () => {
    const { code, stdout } = await sluice(['run', 'export-csv', '--help']);
    expect(code).toBe(0);
    for (const flag of ['--status', '--sold-from', '--sold-to', '--limit', '--escape-formulas', '--batch-size', '--db', '--out']) expect(stdout.toString()).toContain(flag);
  });

  it('writes to the default output path out/<pipeline>.<ext> under the working directory', async () => {
    const { code } = await sluice(['run', 'number-barcode', '--db', db, '--log-level', 'warn'], { cwd: dir.path });
    expect(code).toBe(0);
    expect(readFileSync(dir.file('out/number-barcode.csv'), 'utf8')).toMatch(/^ticket_number,barcode\nT-0001,00012345\n/);
  });

  it('writes to stdout with --out -, logs staying on stderr', async () => {
    const { code, stdout, stderr } = await sluice(['run', 'export-all-barcodes', '--db', db, '--out', '-']);
    expect(code).toBe(0);
    expect(stdout.toString()).toBe('00012345\n00000001\n12345678\n0000000A\n99999999\n00000042\n');
    expect(stderr).toContain('"msg":"export-all-barcodes: 6 rows');
  });

  it('stops quietly with status 141 when the reader of stdout goes away (`| head`)', async () => {
    const big = `sqlite:${dir.file('big.db')}`;
    expect((await sluice(['run', 'seed-tickets', '--db', big, '--count', '20000', '--log-level', 'warn'])).code).toBe(0);
    const result = await sluice(['run', 'export-csv', '--db', big, '--out', '-', '--log-level', 'warn'], {
      onSpawn: (child) => child.stdout!.once('data', () => child.stdout!.destroy()),
    });
    expect(result.code).toBe(141);
    expect(result.stderr).toBe('');
  });

  it('gzip-compresses a path ending in .gz', async () => {
    const plain = dir.file('plain.tsv');
    const gz = dir.file('packed.tsv.gz');
    expect((await sluice(['run', 'export-all-tickets', '--db', db, '--out', plain])).code).toBe(0);
    expect((await sluice(['run', 'export-all-tickets', '--db', db, '--out', gz])).code).toBe(0);
    expect(gunzipSync(readFileSync(gz))).toEqual(readFileSync(plain));
  });

  it('exits 2 with one line for an unknown pipeline', async () => {
    const { code, stderr } = await sluice(['run', 'export-everything', '--db', db]);
    expect(code).toBe(2);
    expectOneLine(stderr, /Unknown pipeline "export-everything"\. Known pipelines: .*export-csv/);
  });

  it.each([
    [['--limit', 'abc'], /Invalid value for parameter "limit": expected an integer from 1 to 100000000, got "abc"/],
    [['--status', 'lost'], /Invalid value for parameter "status": expected one of available, sold, void, redeemed/],
    [['--sold-from', '2026-13-01'], /Invalid value for parameter "soldFrom": expected a date YYYY-MM-DD/],
    [['--batch-size', '0'], /Invalid value for parameter "batchSize": expected an integer from 1 to 50000, got "0"/],
    [['--batch-size', '50001'], /Invalid value for parameter "batchSize"/],
    [['--stauts', 'sold'], /Unknown argument: stauts/],
  ])('exits 2 with one line for bad parameters %j', async (args, message) => {
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', db, '--out', dir.file('bad.csv'), ...args]);
    expect(code).toBe(2);
    expectOneLine(stderr, message);
    expect(existsSync(dir.file('bad.csv'))).toBe(false);
  });

  it('exits 3 with "No tickets found" and creates no file when nothing matches', async () => {
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', db, '--status', 'void', '--category', 'student', '--out', dir.file('none.csv')]);
    expect(code).toBe(3);
    expectOneLine(stderr, /^sluice: No tickets found$/);
    expect(readdirSync(dir.path).filter((f) => f.startsWith('none'))).toEqual([]);
  });

  it('exits 1 with one line when the tickets table is missing', async () => {
    const { code, stderr } = await sluice(['run', 'export-all-barcodes', '--db', `sqlite:${dir.file('empty.db')}`, '--out', dir.file('x.txt')]);
    expect(code).toBe(1);
    expectOneLine(stderr, /Table "tickets" does not exist in sqlite:.*empty\.db\. Run `sluice db init/);
    expect(existsSync(dir.file('x.txt'))).toBe(false);
    expect(existsSync(dir.file('x.txt.part'))).toBe(false);
  });

  it('exits 1 with one line when the SQLite file does not exist', async () => {
    const { code, stderr } = await sluice(['run', 'export-all-barcodes', '--db', dir.file('missing.db'), '--out', dir.file('y.txt')]);
    expect(code).toBe(1);
    expectOneLine(stderr, /Cannot open sqlite:.*missing\.db: the file does not exist/);
    expect(existsSync(dir.file('missing.db'))).toBe(false);
  });

  it('exits 1 with one line when PostgreSQL is unreachable', async () => {
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', 'postgres://postgres@127.0.0.1:1/test', '--out', dir.file('z.csv')]);
    expect(code).toBe(1);
    expectOneLine(stderr, /Cannot connect to postgres:\/\/postgres@127\.0\.0\.1:1\/test \(ECONNREFUSED/);
  });

  it('exits 2 when --out is given to a pipeline that writes to the database', async () => {
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', db, '--out', dir.file('seed.csv')]);
    expect(code).toBe(2);
    expectOneLine(stderr, /Pipeline "seed-tickets" writes to the database; --out does not apply\./);
  });

  it('exits 2 for a database URL it cannot use', async () => {
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', 'mysql://x/y']);
    expect(code).toBe(2);
    expectOneLine(stderr, /Cannot use database "mysql:\/\/x\/y"/);
  });

  it('takes the database from DATABASE_URL when --db is absent', async () => {
    const { code, stdout } = await sluice(['run', 'export-all-barcodes', '--out', '-'], { env: { DATABASE_URL: db } });
    expect(code).toBe(0);
    expect(stdout.toString().split('\n')[0]).toBe('00012345');
  });

  it('`db init` creates the tickets table on SQLite, idempotently', async () => {
    const fresh = `sqlite:${dir.file('sub/fresh.db')}`;
    for (let i = 0; i < 2; i++) {
      const { code, stdout } = await sluice(['db', 'init', '--db', fresh]);
      expect(code).toBe(0);
      expect(stdout.toString()).toContain('Tickets table ready');
    }
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', fresh, '--out', dir.file('fresh.csv')]);
    expect([code, stderr.trim()]).toEqual([3, 'sluice: No tickets found']);
  });

  it('a SQLite run never loads the PostgreSQL driver (it costs start-up time); a PostgreSQL run does', async () => {
    const env = { NODE_OPTIONS: `--import=${pathToFileURL(fileURLToPath(new URL('../support/report-loaded-drivers.mjs', import.meta.url))).href}` };
    const loaded = (stderr: string) => JSON.parse(/loaded drivers: (.*)/.exec(stderr)![1]!) as string[];
    const sqliteRun = await sluice(['run', 'export-all-barcodes', '--db', db, '--out', '-', '--log-level', 'warn'], { env });
    expect(sqliteRun.code, sqliteRun.stderr).toBe(0);
    expect(loaded(sqliteRun.stderr)).toEqual([]);
    if (!pgOk) return;
    const pgRun = await sluice(['db', 'init', '--db', scratch!.url], { env });
    expect(pgRun.code, pgRun.stderr).toBe(0);
    expect(loaded(pgRun.stderr)).toContain('pg');
  });

  it.skipIf(!pgOk)('`db init` and seeding work on PostgreSQL, idempotently', async () => {
    for (let i = 0; i < 2; i++) expect((await sluice(['db', 'init', '--db', scratch!.url])).code).toBe(0);
    expect((await sluice(['run', 'seed-tickets', '--db', scratch!.url, '--count', '2500', '--log-level', 'warn'])).code).toBe(0);
    expect((await sluice(['run', 'seed-tickets', '--db', scratch!.url, '--count', '500', '--log-level', 'warn'])).code).toBe(0);
    const { stdout } = await sluice(['run', 'export-all-barcodes', '--db', scratch!.url, '--out', '-', '--log-level', 'warn']);
    const barcodes = stdout.toString().trimEnd().split('\n');
    expect(barcodes).toHaveLength(3000);
    expect(new Set(barcodes).size).toBe(3000);
    expect(barcodes.every((b) => /^\d{8}$/.test(b))).toBe(true);
  });

  it('leaves an existing output file untouched when a run fails', async () => {
    const target = dir.file('keep.csv');
    writeFileSync(target, 'previous complete export\n');
    const { code } = await sluice(['run', 'export-csv', '--db', `sqlite:${dir.file('empty.db')}`, '--out', target]);
    expect(code).toBe(1);
    expect(readFileSync(target, 'utf8')).toBe('previous complete export\n');
  });
});
