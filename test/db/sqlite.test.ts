import { copyFileSync, existsSync, statSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import { sluice } from '../support/cli.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, insertTickets } from '../support/tickets.ts';

const dir = scratchDir();
afterAll(() => dir.remove());

describe('SQLite database', () => {
  it('leaves every committed row in the .db file when closed, even after reads on its reader connection', async () => {
    const path = dir.file('t.db');
    const db = openDatabase(`sqlite:${path}`, { create: true });
    await insertTickets(db);
    expect(await db.query({ text: 'SELECT count(*) FROM tickets', values: [] })).toEqual([[AWKWARD_TICKETS.length]]);
    await db.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    // Whoever copies the .db file alone (a backup, a benchmark data set) must get every row.
    copyFileSync(path, dir.file('copy.db'));
    const copy = new BetterSqlite3(dir.file('copy.db'), { readonly: true });
    try {
      expect(copy.prepare('SELECT count(*) AS n FROM tickets').get()).toEqual({ n: AWKWARD_TICKETS.length });
    } finally {
      copy.close();
    }
  });
});

describe('SQLite files are left as they were found', () => {
  async function seedLegacy(path: string, count: number): Promise<void> {
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', `sqlite:${path}`, '--count', String(count), '--legacy-barcodes', '--log-level', 'warn']);
    expect(code, stderr).toBe(0);
  }

  it('leaves no WAL behind when an export reading the file outlives a migration writing it', async () => {
    const path = dir.file('shared.db');
    await seedLegacy(path, 20_000);
    const reading = openDatabase(`sqlite:${path}`);
    const stream = reading.streamBatches({ text: 'SELECT id, barcode FROM tickets ORDER BY id', values: [] }, { batchSize: 100 });
    const iterator = (stream as AsyncIterable<unknown[]>)[Symbol.asyncIterator]();
    await iterator.next(); // the export holds a read transaction from here
    await runPipeline(await bundledPipeline('migrate-8digit-barcodes'), { database: `sqlite:${path}`, params: { batchSize: 500 } });
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    while (!(await iterator.next()).done);
    await reading.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const check = new BetterSqlite3(path, { readonly: true });
    try {
      expect(check.prepare("SELECT count(*) AS n FROM tickets WHERE length(barcode) = 8").get()).toEqual({ n: 20_000 });
    } finally {
      check.close();
    }
  });

  it('gives a database found in rollback-journal mode its mode back, and keeps WAL on files it creates', async () => {
    const path = dir.file('journal.db');
    await seedLegacy(path, 2000);
    const created = new BetterSqlite3(path);
    expect(created.pragma('journal_mode', { simple: true })).toBe('wal');
    created.pragma('journal_mode = DELETE');
    created.close();
    await runPipeline(await bundledPipeline('migrate-8digit-barcodes'), { database: `sqlite:${path}`, params: { batchSize: 500 } });
    const after = new BetterSqlite3(path, { readonly: true });
    try {
      expect(after.pragma('journal_mode', { simple: true })).toBe('delete');
      expect(after.prepare("SELECT count(*) AS n FROM tickets WHERE length(barcode) = 8").get()).toEqual({ n: 2000 });
    } finally {
      after.close();
    }
    expect(existsSync(`${path}-wal`)).toBe(false);
  });
});
