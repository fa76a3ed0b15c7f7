import { copyFileSync, existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
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
