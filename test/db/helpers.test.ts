import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppDatabase, type RowObject, openAppDatabase } from '../../src/db/helpers.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, openConnections, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';

const ROWS = 5000;
const dir = scratchDir();
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase | undefined;
const urls: Array<[string, () => string, string]> = [['sqlite', () => `sqlite:${dir.file('h.db')}`, 'SELECT id, barcode, sold_at FROM tickets WHERE id > ? ORDER BY id']];
if (pgOk) urls.push(['postgres', () => scratch!.url, 'SELECT id, barcode, sold_at FROM tickets WHERE id > $1 ORDER BY id']);

beforeAll(async () => {
  if (pgOk) scratch = await createScratchDatabase();
  for (const [, url] of urls) {
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', url(), '--count', String(ROWS), '--reset', '--log-level', 'warn']);
    if (code !== 0) throw new Error(stderr);
  }
});

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

describe.each(urls)('seed app helpers on %s', (_dialect, url, sql) => {
  let db: AppDatabase;
  beforeAll(() => {
    db = openAppDatabase(url());
  });
  afterAll(() => db.close());

  it('streamRows calls back once per row, in order, with row objects', async () => {
    const seen: RowObject[] = [];
    const count = await db.streamRows(sql, [10], (row) => void seen.push(row), { batchSize: 333 });
    expect(count).toBe(ROWS - 10);
    expect(seen).toHaveLength(ROWS - 10);
    expect(seen[0]).toEqual({ id: 11, barcode: expect.stringMatching(/^\d{8}$/), sold_at: seen[0]!.sold_at });
    expect(seen.map((r) => r.id)).toEqual(Array.from({ length: ROWS - 10 }, (_, i) => i + 11));
  });

  it('processBatches honours the batch size and an exact limit', async () => {
    const sizes: number[] = [];
    const result = await db.processBatches(sql, [0], (rows) => void sizes.push(rows.length), { batchSize: 400, limit: 1001 });
    expect(result).toEqual({ rows: 1001, batches: 3, stoppedEarly: true });
    expect(sizes).toEqual([400, 400, 201]);
  });

  it('processBatches stops when the callback returns false', async () => {
    let calls = 0;
    const result = await db.processBatches(sql, [0], () => ++calls < 2, { batchSize: 100 });
    expect(result).toEqual({ rows: 200, batches: 2, stoppedEarly: true });
  });

  it('processBatches reads everything when not stopped', async () => {
    const result = await db.processBatches(sql, [0], () => true, { batchSize: 1000 });
    expect(result).toEqual({ rows: ROWS, batches: 5, stoppedEarly: false });
  });

  it('refuses a bad batch size with the same message as the pipelines', async () => {
    await expect(db.processBatches(sql, [0], () => true, { batchSize: 0 })).rejects.toMatchObject({
      code: 'INVALID_PARAM',
      message: 'Invalid value for parameter "batchSize": expected an integer from 1 to 50000, got 0.',
    });
  });
});

describe.skipIf(!pgOk)('stopping early on PostgreSQL', () => {
  it('releases the cursor connection', async () => {
    const db = openAppDatabase(scratch!.url);
    try {
      await db.processBatches('SELECT * FROM tickets ORDER BY id', [], () => false, { batchSize: 100 });
      const pool = (db.database as PostgresDatabase).pool;
      expect(pool.totalCount - pool.idleCount).toBe(0);
    } finally {
      await db.close();
    }
    const deadline = Date.now() + 1000;
    while ((await openConnections(scratch!.name)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(await openConnections(scratch!.name)).toBe(0);
  });
});

