import { readFileSync, readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import type { Row } from '../../src/core/types.ts';
import type { RunResult } from '../../src/core/run.ts';
import type { Pipeline } from '../../src/core/define.ts';
import { SluiceError } from '../../src/core/errors.ts';
import type { ReadAhead } from '../../src/core/ordered-assembly.ts';
import { openDatabase } from '../../src/db/open.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { definePipeline } from '../../src/core/define.ts';
import { sqlSelect } from '../../src/sources/sql-select.ts';
import { xlsxSink } from '../../src/sinks/xlsx.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';
import { readXlsx, unzip } from '../support/xlsx.ts';
import { sluice } from '../support/cli.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, openConnections, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { fuzzTickets } from '../support/fuzz-tickets.ts';
import { AWKWARD_TICKETS, insertTickets, seedTickets } from '../support/tickets.ts';

/** A dense run of keys, then ever wider gaps up to 2^45: min/max arithmetic would put nearly every row in the first range. */
function skewedId(i: number): number {
  return i < 2000 ? i + 10 : 1_000_000 + (i - 2000) ** 3 * 4099;
}

/** The awkward tickets of the exact-output tests, then fuzzed ones with skewed, gappy keys. */
function rows(count: number): Row[] {
  return [...AWKWARD_TICKETS, ...fuzzTickets(count, { seed: 7, id: skewedId })];
}

const pgOk = await postgresAvailable();
const dir = scratchDir();
const sqliteUrl = `sqlite:${dir.file('skewed.db')}`;
const bigSqliteUrl = `sqlite:${dir.file('big.db')}`;
let scratch: ScratchDatabase | undefined;
let bigScratch: ScratchDatabase | undefined;
const BIG = 200_000;

beforeAll(async () => {
  const data = rows(3000);
  await seedTickets(sqliteUrl, data);
  const seedBig = async (url: string) => {
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', url, '--count', String(BIG), '--reset', '--log-level', 'warn']);
    if (code !== 0) throw new Error(stderr);
  };
  await seedBig(bigSqliteUrl);
  if (pgOk) {
    scratch = await createScratchDatabase();
    const pg = openDatabase(scratch.url);
    await insertTickets(pg, data);
    await pg.close();
    bigScratch = await createScratchDatabase();
    await seedBig(bigScratch.url);
  }
});

afterAll(async () => {
  await scratch?.drop();
  await bigScratch?.drop();
  dir.remove();
});

let fileNo = 0;
type Params = Readonly<Record<string, string | number | boolean>>;

async function exportFile(name: string | Pipeline, database: string, params: Params, parallel: number, extension = 'out', inDatabase = true): Promise<{ bytes: Buffer; summary: RunResult; log: string }> {
  const path = dir.file(`export-${++fileNo}.${extension}`);
  const messages: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, cb) => (messages.push(chunk.toString()), cb()) }));
  const pipeline = typeof name === 'string' ? await bundledPipeline(name) : name;
  const summary = await runPipeline(pipeline, { database, params, output: fileOutput(path), parallel, logger, inDatabase });
  return { bytes: readFileSync(path), summary, log: messages.join('') };
}

function readersOf(summary: RunResult): { count: number; reason: string } {
  return summary.notes?.readers as { count: number; reason: string };
}

/** Files left in the scratch folder that no test wrote on purpose: part files and spill files. */
function leftovers(): string[] {
  return readdirSync(dir.path).filter((f) => f.endsWith('.part') || f.endsWith('.spill'));
}

const CASES: Array<[string, Readonly<Record<string, string | number | boolean>>]> = [
  ['export-csv', {}],
  ['export-csv', { bom: true, escapeFormulas: false }],
  ['export-csv', { status: 'sold', q: 'a' }],
  ['export-all-tickets', {}],
  ['number-barcode', {}],
  ['export-all-barcodes', {}],
];

function identitySuite(engine: string, url: () => string, readerText: RegExp): void {
  describe(`parallel exports on ${engine}`, () => {
    it.each(CASES)('%s %j: N = 2, 3, 4 write the bytes of N = 1', async (name, params) => {
      const serial = await exportFile(name, url(), params, 1);
      expect(serial.bytes.length).toBeGreaterThan(1000);
      for (const parallel of [2, 3, 4]) {
        const run = await exportFile(name, url(), params, parallel);
        expect(readersOf(run.summary).count, readersOf(run.summary).reason).toBe(parallel);
        expect(readersOf(run.summary).reason).toMatch(readerText);
        expect(run.log).toContain(`${parallel} reader(s)`);
        expect(run.summary.rows).toBe(serial.summary.rows);
        expect(run.bytes.equals(serial.bytes), `${name} with ${parallel} readers`).toBe(true);
      }
      expect(leftovers()).toEqual([]);
    });

    it('writes the same gzip file (.csv.gz) with 3 readers as with 1', async () => {
      const serial = await exportFile('export-csv', url(), {}, 1, 'csv.gz');
      const parallel = await exportFile('export-csv', url(), {}, 3, 'csv.gz');
      expect(readersOf(parallel.summary).count).toBe(3);
      expect(parallel.bytes.equals(serial.bytes)).toBe(true);
      expect(gunzipSync(parallel.bytes).length).toBeGreaterThan(1000);
    });

    it('falls back to one reader, and says why, when the rows make a single range', async () => {
      const run = await exportFile('export-csv', url(), { q: 'ünïcødé' }, 4);
      expect(readersOf(run.summary)).toMatchObject({ count: 1, reason: '1 row(s) make a single range' });
      expect(run.summary.rows).toBe(1);
    });
  });
}

identitySuite('SQLite', () => sqliteUrl, /worker threads in one WAL snapshot/);

/** Tickets as XLSX in sheets of 700 rows (header included): sheet boundaries fall inside and between the parts. */
const smallSheets = definePipeline({
  name: 'xlsx-small-sheets',
  description: 'Tickets as XLSX, 699 per sheet (test)',
  params: {},
  source: sqlSelect({ summary: 'tickets', table: 'tickets', columns: TICKET_COLUMNS, orderBy: 'id' }),
  transforms: [],
  sink: xlsxSink({ sheetName: 'Tickets', maxRowsPerSheet: 700 }),
});

/** A workbook's parts but its creation time (docProps/core.xml), which differs between any two runs. */
function workbookParts(bytes: Buffer): Map<string, string> {
  const parts = new Map([...unzip(bytes)].map(([name, content]) => [name, content.toString('utf8')]));
  expect(parts.get('docProps/core.xml')).toMatch(/<dcterms:created/);
  parts.delete('docProps/core.xml');
  return parts;
}

describe('parallel XLSX exports on SQLite', () => {
  it.each<[string, string | Pipeline, Params]>([
    ['export-xlsx', 'export-xlsx', {}],
    ['export-xlsx, filtered', 'export-xlsx', { status: 'sold', q: 'a' }],
    ['sheets of 700 rows', smallSheets, {}],
  ])('%s: N = 1 (worker), 2, 3, 4 write the sheets of the row-by-row path, byte for byte', async (_label, pipeline, params) => {
    const viaRows = await exportFile(pipeline, sqliteUrl, params, 1, 'xlsx', false);
    const expected = workbookParts(viaRows.bytes);
    expect(viaRows.log).not.toContain('a worker thread');
    for (const parallel of [1, 2, 3, 4]) {
      const run = await exportFile(pipeline, sqliteUrl, params, parallel, 'xlsx');
      if (parallel === 1) expect(run.log).toContain('the source encodes the output (a worker thread)');
      else expect(readersOf(run.summary)).toMatchObject({ count: parallel, reason: expect.stringMatching(/worker threads in one WAL snapshot/) });
      expect(run.summary.rows).toBe(viaRows.summary.rows);
      expect(workbookParts(run.bytes), `${parallel} reader(s)`).toEqual(expected);
    }
    expect(leftovers()).toEqual([]);
  });

  it('splits the sheets where the row-by-row path does, with every row once and the header on each', async () => {
    const run = await exportFile(smallSheets, sqliteUrl, {}, 4, 'xlsx');
    const book = readXlsx(run.bytes);
    const total = run.summary.rows;
    expect(book.sheets.map((s) => s.rows.length - 1)).toEqual([...Array.from({ length: Math.floor(total / 699) }, () => 699), total % 699].filter((n) => n > 0));
    const ids = book.sheets.flatMap((sheet) => sheet.rows.slice(1).map((row) => Number(row.cells[0]!.value)));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(total);
  });
});
describe.skipIf(!pgOk)('PostgreSQL', () => {
  identitySuite('PostgreSQL', () => scratch!.url, /COPY readers in one exported snapshot/);

  it('exports XLSX on one reader, and says why, whatever --parallel asks', async () => {
    const run = await exportFile('export-xlsx', scratch!.url, {}, 3, 'xlsx');
    expect(readersOf(run.summary)).toMatchObject({ count: 1, reason: expect.stringMatching(/PostgreSQL XLSX export reads one binary COPY/) });
    const sqlite = await exportFile('export-xlsx', sqliteUrl, {}, 3, 'xlsx');
    expect(workbookParts(run.bytes)).toEqual(workbookParts(sqlite.bytes));
  });
});

/** A file output whose writes are slow: the later parts get ahead and spill. */
function slowFileOutput(path: string, delayMs: number): ReturnType<typeof fileOutput> {
  const file = fileOutput(path);
  return {
    description: file.description,
    spillDir: file.spillDir,
    open: () => {
      const streams = file.open();
      const slow = new Writable({
        write(chunk: Buffer, _e, cb) {
          setTimeout(() => (streams[0]!.write(chunk) ? cb() : streams[0]!.once('drain', () => cb())), delayMs);
        },
        final(cb) {
          streams[0]!.end(cb);
        },
        destroy(error, cb) {
          // The run reports the failure; the file writer only has to remove its part file.
          streams[0]!.on('error', () => undefined);
          streams[0]!.destroy(error ?? undefined);
          streams[0]!.once('close', () => cb(error));
        },
      });
      return [slow];
    },
  };
}

/** Runs `work` with SLUICE_READ_AHEAD set to `mode` (`always`: later parts spill whatever the cores). */
async function readingAhead(mode: ReadAhead, work: () => Promise<void>): Promise<void> {
  const before = process.env.SLUICE_READ_AHEAD;
  process.env.SLUICE_READ_AHEAD = mode;
  try {
    await work();
  } finally {
    if (before === undefined) delete process.env.SLUICE_READ_AHEAD;
    else process.env.SLUICE_READ_AHEAD = before;
  }
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe.skipIf(!pgOk)('parallel PostgreSQL export failures', () => {
  it('fails the whole run cleanly when one reader backend is terminated mid-way: no temp file, no connection left', async () => {
    const path = dir.file('killed.csv');
    const running = runPipeline(await bundledPipeline('export-csv'), { database: bigScratch!.url, output: slowFileOutput(path, 20), parallel: 3 });
    // Client backends only (a COPY may run parallel query workers too), as soon as the first bytes are out: every part is mid-way.
    const copies = () => adminQuery<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND query LIKE 'COPY%' AND state = 'active'", [bigScratch!.name]);
    expect(await waitFor(async () => (await copies()).length === 3 && readdirSync(dir.path).some((f) => f.startsWith('killed.csv.')), 20_000)).toBe(true);
    // The victim is a reader held back by the slow output (waiting to write to its client): one
    // whose range spills at full speed could finish before the signal lands, and the run succeed.
    // The output is slow enough (about 10 s for the whole file) for the first reader to be seen waiting.
    const heldBack = () => adminQuery<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND query LIKE 'COPY%' AND wait_event = 'ClientWrite'", [bigScratch!.name]);
    // Taken as seen: asked again, a backend may have gone back to work.
    let victim: number | undefined;
    expect(await waitFor(async () => (victim = (await heldBack())[0]?.pid) !== undefined, 20_000)).toBe(true);
    await adminQuery('SELECT pg_terminate_backend($1)', [victim]);
    const failure = await running.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SluiceError);
    expect((failure as SluiceError).code).toMatch(/CONNECTION_LOST|QUERY_FAILED/);
    expect(readdirSync(dir.path).filter((f) => f.startsWith('killed.csv') || f.endsWith('.spill'))).toEqual([]);
    expect(await waitFor(async () => (await openConnections(bigScratch!.name)) === 0, 5000)).toBe(true);
  });

  it.each(['always', 'never'] as const)('releases every connection and removes every temp file on abort, later parts reading ahead: %s', (mode) =>
    readingAhead(mode, async () => {
      const path = dir.file(`aborted-pg-${mode}.csv`);
      const controller = new AbortController();
      const running = runPipeline(await bundledPipeline('export-csv'), { database: bigScratch!.url, output: slowFileOutput(path, 2), parallel: 4, signal: controller.signal });
      // Spilling parts show a spill file. Waiting ones: all four COPYs running and the first part's bytes out, then
      // time for the later parts (7.5 MB each) to fill their 1 MiB and wait (their COPYs may end in the socket's buffers).
      const copies = async () => (await adminQuery("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY%'", [bigScratch!.name])).length;
      const writing = () => readdirSync(dir.path).some((f) => f.startsWith(`aborted-pg-${mode}.csv.`));
      const started = async () => (mode === 'always' ? readdirSync(dir.path).some((f) => f.endsWith('.spill')) : (await copies()) >= 4 && writing());
      expect(await waitFor(started, 20_000)).toBe(true);
      if (mode === 'never') await new Promise((resolve) => setTimeout(resolve, 300));
      if (mode === 'never') expect(readdirSync(dir.path).filter((f) => f.endsWith('.spill'))).toEqual([]);
      expect(await openConnections(bigScratch!.name)).toBeGreaterThanOrEqual(1);
      controller.abort();
      await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
      expect(readdirSync(dir.path).filter((f) => f.startsWith(`aborted-pg-${mode}.csv`) || f.endsWith('.spill'))).toEqual([]);
      expect(await waitFor(async () => (await openConnections(bigScratch!.name)) === 0, 5000)).toBe(true);
    }),
  );
});

/** This process's threads (a worker thread is one). */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

describe('parallel SQLite export abort', () => {
  it.each([
    ['export-csv', 'csv'],
    ['export-xlsx', 'xlsx'],
  ])('%s: ends every worker and removes every temp file on abort', (name, extension) =>
    readingAhead('always', async () => {
      // Warm up: the thread pool and a worker's platform threads exist before counting.
      await exportFile('export-all-barcodes', sqliteUrl, {}, 2);
      const before = threads();
      const path = dir.file(`aborted-sqlite.${extension}`);
      const controller = new AbortController();
      const running = runPipeline(await bundledPipeline(name), { database: bigSqliteUrl, output: slowFileOutput(path, 2), parallel: 4, signal: controller.signal });
      expect(await waitFor(() => readdirSync(dir.path).some((f) => f.endsWith('.spill')), 20_000)).toBe(true);
      expect(threads()).toBeGreaterThan(before);
      controller.abort();
      await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
      expect(readdirSync(dir.path).filter((f) => f.startsWith('aborted-sqlite') || f.endsWith('.spill'))).toEqual([]);
      expect(await waitFor(() => threads() <= before, 5000)).toBe(true);
    }));
});
