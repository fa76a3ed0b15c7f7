import { buffer, text } from 'node:stream/consumers';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import type { SqlEncoding } from '../../src/core/types.ts';
import { openDatabase } from '../../src/db/open.ts';
import { openEncodedParts } from '../../src/db/parallel-export.ts';
import { type SelectSpec, buildSelect } from '../../src/db/select.ts';
import { SqliteEncodedReader } from '../../src/db/sqlite-encoded-reader.ts';
import { SheetDataParser } from '../../src/format/xlsx-sheet-data.ts';
import { type ScratchDatabase, createScratchDatabase, openConnections, postgresAvailable } from '../support/postgres.ts';
import { type ScratchDir, scratchDir } from '../support/sqlite.ts';

const ACCOUNTS = 400;
const spec: SelectSpec = {
  table: 'accounts',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'balance', type: 'integer' },
  ],
  orderBy: 'id',
};
const CSV: SqlEncoding = { format: 'csv', header: true, escapeFormulas: false, preamble: '' };

async function createAccounts(db: Database): Promise<void> {
  await db.exec('CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)');
  // Gaps in the keys: the ranges are not arithmetic.
  const rows = Array.from({ length: ACCOUNTS }, (_, i) => [i < 300 ? i + 1 : 10_000 + i * 977, 0]);
  await db.insertBatch({ table: 'accounts', columns: spec.columns }, rows);
}

/**
 * Reads the parts concurrently and checks the one invariant the writer keeps in each commit:
 * the balances sum to zero. Readers of different commits would see a transfer's debit without
 * its credit.
 */
async function readConsistently(db: Database, parallel: number): Promise<{ readers: number; reason: string }> {
  const planned = await openEncodedParts(db, spec, {}, CSV, { parallel, batchSize: 50 });
  expect(planned.parts, planned.reason).toBeDefined();
  const texts = await Promise.all(planned.parts!.map((part) => text(part)));
  const lines = texts.join('').trimEnd().split('\n');
  expect(lines[0]).toBe('id,balance');
  const balances = lines.slice(1).map((line) => line.split(',').map(Number));
  expect(balances).toHaveLength(ACCOUNTS);
  const ids = balances.map(([id]) => id!);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(balances.reduce((sum, [, balance]) => sum + balance!, 0)).toBe(0);
  expect(balances.some(([, balance]) => balance !== 0), 'the writer ran before the read').toBe(true);
  return planned;
}

/** Sheets of 36 data rows: the parts' boundaries fall inside sheets. */
const SHEET: SqlEncoding = { format: 'xlsx-sheet', maxRowsPerSheet: 37, styles: { header: 1, date: 2 }, firstRow: 0 };

/**
 * Reads an XLSX export's sheet rows in parts and checks that they are numbered and split into
 * sheets as one reader would number them: a later part's first row comes from the rows the
 * parts before it hold, so a count from another commit than the one read would leave a gap or
 * a repeat at a part's boundary.
 */
async function readSheetsConsistently(db: Database, parallel: number): Promise<{ readers: number; reason: string }> {
  const planned = await openEncodedParts(db, spec, {}, SHEET, { parallel, batchSize: 50 });
  expect(planned.parts, planned.reason).toBeDefined();
  const parts = await Promise.all(planned.parts!.map((part) => buffer(part)));
  const rows: Array<[number, number, number]> = [];
  let sheet = -1;
  for (const piece of new SheetDataParser().push(Buffer.concat(parts))) {
    if ('xml' in piece) for (const m of piece.xml.toString().matchAll(/<row r="(\d+)"><c r="A\1"><v>(-?\d+)<\/v>/g)) rows.push([sheet, Number(m[1]), Number(m[2])]);
    else if ('sheet' in piece && !('issues' in piece)) sheet = piece.sheet;
  }
  expect(rows.length).toBeGreaterThan(ACCOUNTS);
  expect(rows.map(([s, r]) => [s, r])).toEqual(rows.map((_, k) => [Math.floor(k / 36), 2 + (k % 36)]));
  const ids = rows.map(([, , id]) => id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  return planned;
}

/**
 * A SQLite writer in a thread of its own, committing one `commit(commits)` at a time until told
 * to stop; `prepare` runs once first (JavaScript text, with `db` open). Resolves the commit count.
 */
interface Writer {
  /** Resolves once the writer has committed `n` times: the reads must meet a database that changes. */
  readonly committed: (n: number) => Promise<void>;
  readonly stop: () => Promise<number>;
}

/** Resolves once `count()` reaches `n` (at most 10 s: a machine under load starts a thread late). */
async function reached(count: () => number, n: number): Promise<void> {
  for (const deadline = Date.now() + 10_000; count() < n && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(count()).toBeGreaterThanOrEqual(n);
}

function sqliteWriterThread(path: string, prepare: string, commit: string): Writer {
  // [0]: stop; [1]: commits so far.
  const stop = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const Database = require(workerData.module);
    const db = new Database(workerData.path);
    db.pragma('busy_timeout = 5000');
    ${prepare}
    let commits = 0;
    while (Atomics.load(workerData.stop, 0) === 0) {
      ${commit}
      commits++;
      Atomics.store(workerData.stop, 1, commits);
    }
    db.close();
    parentPort.postMessage(commits);
    `,
    { eval: true, workerData: { path, stop, module: require.resolve('better-sqlite3') } },
  );
  const done = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    committed: (n) => reached(() => Atomics.load(stop, 1), n),
    stop: async () => {
      Atomics.store(stop, 0, 1);
      return done;
    },
  };
}

/** Moves amounts between accounts, one transfer per commit: the balances always sum to zero. */
function sqliteWriter(path: string): Writer {
  return sqliteWriterThread(
    path,
    `const ids = db.prepare('SELECT id FROM accounts').pluck().all();
    const move = db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?');
    const transfer = db.transaction((a, b, x) => { move.run(-x, a); move.run(x, b); });`,
    'transfer(ids[commits % ids.length], ids[(commits * 7 + 3) % ids.length], 1 + (commits % 13));',
  );
}

/**
 * Adds a row below every key each commit and removes one every other, so that the first key
 * range's row count changes with every commit.
 */
function sqliteInserter(path: string): Writer {
  return sqliteWriterThread(
    path,
    `const add = db.prepare('INSERT INTO accounts VALUES (?, 0)');
    const remove = db.prepare('DELETE FROM accounts WHERE id = ?');`,
    'db.transaction(() => { add.run(-1 - commits); if (commits % 2) remove.run(-1 - (commits >> 1)); })();',
  );
}

describe('one snapshot for all readers: SQLite (WAL)', () => {
  let dir: ScratchDir;
  let db: Database;
  beforeAll(async () => {
    dir = scratchDir();
    db = openDatabase(`sqlite:${dir.file('accounts.db')}`, { create: true });
    await createAccounts(db);
  });
  afterAll(async () => {
    await db.close();
    dir.remove();
  });

  it('reads one consistent state while a writer commits continuously', async () => {
    const writer = sqliteWriter(dir.file('accounts.db'));
    try {
      await writer.committed(10);
      for (let round = 0; round < 8; round++) {
        const { readers, reason } = await readConsistently(db, 2 + (round % 3));
        expect(readers).toBe(2 + (round % 3));
        expect(reason).toMatch(/worker threads in one WAL snapshot/);
      }
    } finally {
      expect(await writer.stop()).toBeGreaterThan(100);
    }
  });

  it('numbers an XLSX export\'s sheet rows as one reader would while a writer adds and removes rows', async () => {
    const writer = sqliteInserter(dir.file('accounts.db'));
    try {
      await writer.committed(10);
      for (let round = 0; round < 6; round++) {
        const { readers } = await readSheetsConsistently(db, 2 + (round % 3));
        expect(readers).toBe(2 + (round % 3));
      }
    } finally {
      expect(await writer.stop()).toBeGreaterThan(100);
    }
  });

  it('holds back a later part of a sheet, even when asked for its bytes, until it is told where its rows start', async () => {
    const part = new SqliteEncodedReader({
      path: dir.file('accounts.db'),
      label: 'accounts',
      query: buildSelect('sqlite', spec, {}),
      columns: spec.columns,
      encoding: { ...SHEET, firstRow: undefined },
      batchSize: 50,
      snapshot: true,
    });
    await once(part, 'opened');
    part.beginSnapshot();
    await once(part, 'begun');
    const chunks: Buffer[] = [];
    part.on('data', (chunk: Buffer) => chunks.push(chunk));
    await sleep(300);
    expect(chunks).toEqual([]);
    // Three full sheets of 36 rows before it: its first row is the fourth sheet's second.
    part.startAfter(3 * 36);
    await once(part, 'end');
    const pieces = new SheetDataParser().push(Buffer.concat(chunks));
    expect(pieces[0]).toEqual({ sheet: 3 });
    expect((pieces[1] as { xml: Buffer }).xml.toString()).toMatch(/^<row r="2">/);
  });

  it('falls back to one reader, and says why, in rollback-journal mode', async () => {
    const path = dir.file('journal.db');
    const raw = new BetterSqlite3(path);
    raw.exec('CREATE TABLE accounts (id integer PRIMARY KEY, balance integer NOT NULL); INSERT INTO accounts VALUES (1, 0), (2, 0), (3, 0)');
    raw.close();
    const journal = openDatabase(`sqlite:${path}`);
    try {
      const planned = await openEncodedParts(journal, spec, {}, CSV, { parallel: 3, batchSize: 50 });
      expect(planned).toEqual({ readers: 1, reason: 'the database is in delete journal mode, where connections cannot share one snapshot (WAL can)' });
    } finally {
      await journal.close();
    }
  });
});

const pgUp = await postgresAvailable();
describe.skipIf(!pgUp)('one snapshot for all readers: PostgreSQL', () => {
  let scratch: ScratchDatabase;
  let db: Database;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
    db = openDatabase(scratch.url);
    await createAccounts(db);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('reads one consistent state while a writer commits continuously, and releases every connection', async () => {
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    const ids = (await client.query<{ id: string }>('SELECT id FROM accounts')).rows.map((r) => r.id);
    let running = true;
    let commits = 0;
    const writing = (async () => {
      while (running) {
        const x = 1 + (commits % 13);
        await client.query('UPDATE accounts SET balance = balance + CASE WHEN id = $1 THEN $3::bigint ELSE -$3::bigint END WHERE id IN ($1, $2)', [ids[commits % ids.length], ids[(commits * 7 + 3) % ids.length], x]);
        commits++;
      }
    })();
    try {
      await reached(() => commits, 10);
      for (let round = 0; round < 8; round++) {
        const { readers, reason } = await readConsistently(db, 2 + (round % 3));
        expect(readers).toBe(2 + (round % 3));
        expect(reason).toMatch(/COPY readers in one exported snapshot/);
      }
    } finally {
      running = false;
      await writing;
      await client.end();
    }
    expect(commits).toBeGreaterThan(8);
    // The pool keeps released clients idle; closing it must leave nothing behind.
    await db.close();
    db = openDatabase(scratch.url);
    expect(await openConnections(scratch.name)).toBe(0);
  });
});
