import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { sluice } from '../support/cli.ts';
import { duplicateKeys } from '../support/json-keys.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';
import { seedTickets, withDatabase } from '../support/tickets.ts';

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
    [['--limit', 'abc'], /Invalid value for --limit: expected an integer from 1 to 100000000, got "abc"/],
    [['--status', 'lost'], /Invalid value for --status: expected one of available, sold, void, redeemed/],
    [['--sold-from', '2026-13-01'], /Invalid value for --sold-from: expected a date YYYY-MM-DD/],
    [['--batch-size', '0'], /Invalid value for --batch-size: expected an integer from 1 to 50000, got "0"/],
    [['--batch-size', '50001'], /Invalid value for --batch-size/],
    [['--stauts', 'sold'], /^sluice: Unknown option --stauts\. Did you mean --status\? See `sluice run export-csv --help` for the options it takes\.$/],
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
    expect(partFilesOf(dir.file('x.txt'))).toEqual([]);
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
    expectOneLine(stderr, /Cannot connect to postgres:\/\/postgres@127\.0\.0\.1:1\/test \(connect ECONNREFUSED 127\.0\.0\.1:1\)\. Check that the server is running/);
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
      expect(stdout.toString()).toContain('Tables ready');
    }
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', fresh, '--out', dir.file('fresh.csv')]);
    expect([code, stderr.trim()]).toEqual([3, 'sluice: No tickets found']);
  });

  it('a SQLite text export loads neither the PostgreSQL driver nor exceljs (each costs start-up time); a PostgreSQL run loads pg', async () => {
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

describe('boolean flags and empty values', () => {
  const legacy = `sqlite:${dir.file('legacy.db')}`;
  beforeAll(async () => {
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', legacy, '--count', '300', '--legacy-barcodes', '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
  });
  const barcodes = async () => (await sluice(['run', 'export-all-barcodes', '--db', legacy, '--out', '-', '--log-level', 'warn'])).stdout.toString();

  it.each(['TRUE', 'True', 'yes', '1', 'on', 'ON'])('--dry-run=%s is a dry run: exit 0 and nothing changes', async (word) => {
    const before = await barcodes();
    const { code, stderr } = await sluice(['run', 'migrate-8digit-barcodes', '--db', legacy, `--dry-run=${word}`, '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('(dry run, nothing changed)');
    expect(await barcodes()).toBe(before);
  });

  it('takes a boolean word after a bare flag too (--dry-run yes)', async () => {
    const before = await barcodes();
    const { code, stderr } = await sluice(['run', 'migrate-8digit-barcodes', '--dry-run', 'yes', '--db', legacy, '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
    expect(await barcodes()).toBe(before);
  });

  it.each(['maybe', 'tru', ''])('--dry-run=%j exits 2 naming the flag, and changes nothing', async (word) => {
    const before = await barcodes();
    const { code, stderr } = await sluice(['run', 'migrate-8digit-barcodes', '--db', legacy, `--dry-run=${word}`]);
    expect(code).toBe(2);
    expectOneLine(stderr, /^sluice: Invalid value for --dry-run: expected true or false \(also 1\/0, yes\/no, on\/off\), got /);
    expect(await barcodes()).toBe(before);
  });

  it('--escape-formulas=yes keeps the escape; --escape-formulas=off and --no-escape-formulas turn it off', async () => {
    const run = async (...flags: string[]) => (await sluice(['run', 'export-csv', '--db', db, '--out', '-', '--log-level', 'warn', ...flags])).stdout.toString();
    const escaped = await run();
    expect(escaped).toContain("'=HYPERLINK");
    expect(await run('--escape-formulas=yes')).toBe(escaped);
    expect(await run('--escape-formulas', 'TRUE')).toBe(escaped);
    const raw = await run('--escape-formulas=off');
    expect(raw).toContain(',"=HYPERLINK');
    expect(await run('--no-escape-formulas')).toBe(raw);
  });

  it.each([
    [['--status', ''], /^sluice: Invalid value for --status: expected one of available, sold, void, redeemed, got an empty value\.$/],
    [['--limit', ''], /^sluice: Invalid value for --limit: expected an integer from 1 to 100000000, got an empty value\.$/],
    [['--seller', ''], /^sluice: Invalid value for --seller: .* got an empty value\.$/],
    [['--q', ''], /^sluice: Invalid value for --q: .* got an empty value\.$/],
    [['--limit'], /^sluice: --limit needs a value: an integer from 1 to 100000000\.$/],
    [['--limit', '--status', 'sold'], /^sluice: --limit needs a value: an integer from 1 to 100000000\.$/],
    [['--out'], /^sluice: --out needs a value: a file path, or - for stdout\.$/],
  ])('%j exits 2 instead of dropping the filter, and writes nothing', async (args, message) => {
    const out = dir.file('empty-value.csv');
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', db, '--out', out, ...args]);
    expect(code).toBe(2);
    expectOneLine(stderr, message);
    expect(existsSync(out)).toBe(false);
  });

  it('takes options before the pipeline name', async () => {
    const { code, stdout, stderr } = await sluice(['run', '--db', db, '--out', '-', 'export-csv', '--status', 'sold', '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
    expect((parse(stdout) as string[][]).map((row) => row[0])).toEqual(['id', '1', '3', '6']);
  });
});

describe('output names', () => {
  it('compresses a path ending in .GZ in any case', async () => {
    const out = dir.file('UPPER.CSV.GZ');
    const { code, stderr } = await sluice(['run', 'number-barcode', '--db', db, '--out', out, '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
    expect(gunzipSync(readFileSync(out)).toString('utf8')).toMatch(/^ticket_number,barcode\n/);
  });

  it('warns when the name does not say the format (an XLSX workbook under .csv)', async () => {
    const { code, stderr } = await sluice(['run', 'export-xlsx', '--db', db, '--out', dir.file('book.csv'), '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('export-xlsx writes XLSX, but --out');
    const quiet = await sluice(['run', 'export-xlsx', '--db', db, '--out', dir.file('book.xlsx'), '--log-level', 'warn']);
    expect(quiet.stderr).toBe('');
  });
});

describe('papercuts', () => {
  it.skipIf(!pgOk)('`db init` on a PostgreSQL database that does not exist says so, and --create creates it', async () => {
    const url = new URL(scratch!.url);
    const name = `${url.pathname.slice(1)}_created`;
    url.pathname = `/${name}`;
    const missing = await sluice(['db', 'init', '--db', url.toString()]);
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, new RegExp(`database "${name}" does not exist there .*\\\`createdb ${name}\\\`, or \\\`sluice db init --create`));
    const created = await sluice(['db', 'init', '--db', url.toString(), '--create']);
    try {
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout.toString()).toBe(`Created database ${url.toString()}\nTables ready in ${url.toString()}\n`);
      expect((await sluice(['db', 'init', '--db', url.toString(), '--create'])).stdout.toString()).toBe(`Tables ready in ${url.toString()}\n`);
    } finally {
      const { adminQuery } = await import('../support/postgres.ts');
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  it('`db init` on a tickets table it did not make names the missing columns (exit 3)', async () => {
    const odd = dir.file('odd.db');
    await withDatabase(`sqlite:${odd}`, (d) => d.exec('CREATE TABLE tickets (id INTEGER PRIMARY KEY, barcode TEXT, status TEXT)'), { create: true });
    const { code, stderr } = await sluice(['db', 'init', '--db', odd]);
    expect(code).toBe(3);
    expectOneLine(stderr, /lacks the columns ticket_number, category, price_cents, buyer_name, buyer_email, buyer_phone, seller, sold_at, created_at, updated_at that sluice's exports read/);
  });

  it('says that --db sqlite:<a directory> is a directory', async () => {
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', `sqlite:${dir.path}`, '--out', '-']);
    expect(code).toBe(2);
    expectOneLine(stderr, /is a directory, not a database file/);
  });

  it('validates demo flags like any parameter, and refuses to replace tickets it did not create', async () => {
    const bad = await sluice(['demo', '--rows', 'abc']);
    expect(bad.code).toBe(2);
    expectOneLine(bad.stderr, /^sluice: Invalid value for --rows: expected an integer from 1 to 50000000, got "abc"\.$/);
    const foreign = await sluice(['demo', '--rows', '100', '--db', db]);
    expect(foreign.code).toBe(3);
    expectOneLine(foreign.stderr, /holds data the demo did not create \(tickets\); .* pass --reset to replace it/);
    expect((await sluice(['run', 'export-all-barcodes', '--db', db, '--out', '-', '--log-level', 'warn'])).stdout.toString().split('\n')).toHaveLength(7);
  });

  it('runs the demo into a database of its own by default, and says so in --help', async () => {
    const cwd = scratchDir('sluice-demo-cwd-');
    try {
      const help = await sluice(['demo', '--help']);
      expect(help.stdout.toString()).toMatch(/--db\s+text\s+sqlite:data\/demo\.db/);
      const run = await sluice(['demo', '--rows', '200'], { cwd: cwd.path, env: { DATABASE_URL: db } });
      expect(run.code, run.stderr).toBe(0);
      expect(existsSync(cwd.file('data/demo.db'))).toBe(true);
      expect(run.stdout.toString()).toMatch(/export-csv\s+200 /);
      // A second demo replaces its own tickets without being told to.
      expect((await sluice(['demo', '--rows', '150'], { cwd: cwd.path })).code).toBe(0);
    } finally {
      cwd.remove();
    }
  });

  it('writes each key once per log line (the pipeline is named once)', async () => {
    const big = `sqlite:${dir.file('logs.db')}`;
    expect((await sluice(['run', 'seed-tickets', '--db', big, '--count', '25000', '--log-level', 'warn'])).code).toBe(0);
    const { stderr } = await sluice(['run', 'export-csv', '--db', big, '--out', dir.file('logs.csv')]);
    const lines = stderr.trim().split('\n');
    expect(lines.filter((l) => l.includes('"msg":"progress"'))).toHaveLength(2);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
  });
});
