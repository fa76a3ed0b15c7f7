import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, placeholder } from '../../src/core/database.ts';
import type { Row, Value } from '../../src/core/types.ts';
import { type KeyRange, type KeyRangePlan, type RangeSource, boundsQuery, planKeyRanges, rangeCondition, rangesFromTiles, tilesFromBounds } from '../../src/db/key-ranges.ts';
import { openDatabase } from '../../src/db/open.ts';
import { type SelectSpec, buildCopy, buildSelect, rangeSource } from '../../src/db/select.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { type ScratchDir, scratchDir } from '../support/sqlite.ts';

describe('key ranges from tiles (pure)', () => {
  it('opens the first range below and the last above, sharing bounds between neighbours', () => {
    expect(rangesFromTiles([[10n, 3], [20n, 3], [99n, 2]])).toEqual([
      { through: 10n, rows: 3 },
      { after: 10n, through: 20n, rows: 3 },
      { after: 20n, rows: 2 },
    ]);
  });

  it('closes the last range at its key when a limit cut the rows', () => {
    expect(rangesFromTiles([[5, 1], [7, 1]], { closedAbove: true })).toEqual([{ through: 5, rows: 1 }, { after: 5, through: 7, rows: 1 }]);
  });

  it('gives one range of everything for no rows, and one open range for one tile', () => {
    expect(rangesFromTiles([])).toEqual([{ rows: 0 }]);
    expect(rangesFromTiles([[4, 9]])).toEqual([{ rows: 9 }]);
  });

  it('deals rows into tiles as ntile does: sizes differ by at most one, the larger first', () => {
    expect(tilesFromBounds([10n, 3n, 6n, 8n], 4)).toEqual([[3n, 3], [6n, 3], [8n, 2], [null, 2]]);
    expect(tilesFromBounds([2n, 5n, 9n, 9n], 4)).toEqual([[5n, 1], [9n, 1]]);
    expect(tilesFromBounds([0n, null, null], 3)).toEqual([]);
  });

  it('finds the bounds in one query, splicing only checked integers', () => {
    const source: RangeSource = { table: 'items', key: 'id', where: '"grp" = ?', values: ['a'] };
    const query = boundsQuery('sqlite', source, 3);
    expect(query.text).toBe(
      'WITH total AS (SELECT count(*) AS n FROM (SELECT 1 FROM "items" WHERE "grp" = ?) AS matching) SELECT n, ' +
        '(SELECT "id" FROM "items" WHERE "grp" = ? ORDER BY "id" LIMIT 1 OFFSET (SELECT max(n / 3 * 1 + min(1, n % 3) - 1, 0) FROM total)), ' +
        '(SELECT "id" FROM "items" WHERE "grp" = ? ORDER BY "id" LIMIT 1 OFFSET (SELECT max(n / 3 * 2 + min(2, n % 3) - 1, 0) FROM total)) FROM total',
    );
    expect(query.values).toEqual(['a', 'a', 'a']);
    const limited = boundsQuery('postgres', { ...source, where: '"grp" = $1', limit: 10 }, 2);
    expect(limited.text).toContain('ORDER BY "id" LIMIT 10) AS matching');
    expect(limited.text).toContain('OFFSET (SELECT greatest(n / 2 * 2 + least(2, n % 2) - 1, 0) FROM total))::text, (SELECT pg_typeof("id")::text');
    expect(limited.values).toEqual(['a']);
    // PostgreSQL counts an unfiltered table in the key's order (its index, read next by the bounds and readers).
    expect(boundsQuery('postgres', { table: 'items', key: 'id', values: [] }, 2).text).toContain('(SELECT 1 FROM "items" ORDER BY "id") AS matching');
    expect(boundsQuery('postgres', { ...source, where: '"grp" = $1' }, 2).text).toContain('(SELECT 1 FROM "items" WHERE "grp" = $1) AS matching');
    expect(() => boundsQuery('sqlite', source, 1.5)).toThrow(/integer/);
    expect(() => boundsQuery('sqlite', { ...source, limit: -1 }, 2)).toThrow(/integer/);
  });

  it('puts a range into the export queries, cast back to the key type where COPY reads the bounds as settings', () => {
    const spec: SelectSpec = { table: 'items', columns: [{ name: 'id', type: 'integer' }], orderBy: 'id', filters: [{ op: 'equals', param: 'grp', column: 'grp' }] };
    const part = { range: { after: '10', through: '20', rows: 5 }, keyType: 'bigint' };
    const copy = buildCopy(spec, { grp: 'a' }, { format: 'csv', header: false, escapeFormulas: false, preamble: '' }, part);
    expect(copy.text).toContain(`WHERE "grp" = current_setting('sluice.p1') AND "id" > current_setting('sluice.p2')::bigint AND "id" <= current_setting('sluice.p3')::bigint ORDER BY "items"."id"`);
    expect(copy.settings).toEqual(['a', '10', '20']);
    const select = buildSelect('sqlite', spec, {}, { range: { after: 3n, rows: 1 } });
    expect(select).toEqual({ text: 'SELECT "id" FROM "items" WHERE "id" > ? ORDER BY "items"."id"', values: [3n] });
    expect(rangeSource('postgres', { ...spec, limitParam: 'limit' }, { grp: 'a', limit: 7 })).toEqual({ table: 'items', key: 'id', where: '"grp" = $1', values: ['a'], limit: 7 });
  });

  it('builds half-open conditions', () => {
    const marks: Value[] = [];
    const bind = (v: Value) => (marks.push(v), '?');
    expect(rangeCondition('id', { after: 1, through: 9, rows: 0 }, bind)).toEqual(['"id" > ?', '"id" <= ?']);
    expect(rangeCondition('id', { rows: 0 }, bind)).toEqual([]);
    expect(marks).toEqual([1, 9]);
  });
});

/** Keys with a dense run, negatives, huge gaps and a sparse tail: min/max arithmetic would put nearly everything in one range. */
function skewedRows(): Row[] {
  const rows: Row[] = [];
  for (let i = 1; i <= 1500; i++) rows.push([i, i % 3 === 0 ? 'a' : 'b']);
  for (let i = 1; i <= 300; i++) rows.push([-i * 7, 'a']);
  for (let i = 1; i <= 200; i++) rows.push([1_000_000 + i * i * 100_003, i % 2 === 0 ? 'a' : 'b']);
  return rows;
}
const TOTAL = 2000;

const COLUMNS = [
  { name: 'id', type: 'integer' as const },
  { name: 'grp', type: 'text' as const },
];

/** Counts a range's rows with the same condition the readers will use. */
async function countIn(db: Database, plan: KeyRangePlan, range: KeyRange, where?: { text: string; values: Value[] }, table = 'items'): Promise<number> {
  const values: Value[] = [...(where?.values ?? [])];
  const cast = plan.keyType ? `::${plan.keyType}` : '';
  const clauses = rangeCondition('id', range, (v) => (values.push(v), `${placeholder(db.dialect, values.length)}${cast}`));
  if (where) clauses.unshift(where.text);
  const text = `SELECT count(*) FROM "${table}"${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''}`;
  const [row] = await db.query({ text, values });
  return Number(row![0]);
}

function plannerSuite(name: string, setup: () => Promise<{ url: string; cleanup: () => Promise<void> }>): void {
  describe(`key-range planner on ${name}`, () => {
    let db: Database;
    let cleanup = async () => {};
    const plan = (source: Partial<RangeSource>, parts: number) => planKeyRanges((q) => db.query(q), db.dialect, { table: 'items', key: 'id', values: [], ...source }, parts);
    const mark = (n: number) => placeholder(db.dialect, n);

    beforeAll(async () => {
      const made = await setup();
      cleanup = made.cleanup;
      db = openDatabase(made.url, { create: true });
      await db.exec('CREATE TABLE items (id bigint PRIMARY KEY, grp text NOT NULL); CREATE TABLE empty_items (id bigint PRIMARY KEY)');
      await db.insertBatch({ table: 'items', columns: COLUMNS }, skewedRows());
    });
    afterAll(async () => {
      await db?.close();
      await cleanup();
    });

    it.each([1, 2, 3, 4, 7])('splits skewed, gappy keys into %i balanced ranges that hold every row once', async (parts) => {
      const planned = await plan({}, parts);
      expect(planned.ranges).toHaveLength(parts);
      expect(planned.rows).toBe(TOTAL);
      const counts = await Promise.all(planned.ranges.map((r) => countIn(db, planned, r)));
      expect(counts).toEqual(planned.ranges.map((r) => r.rows));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(TOTAL);
      expect(Math.max(...counts)).toBeLessThanOrEqual(1.5 * Math.min(...counts));
      expect(planned.ranges[0]!.after).toBeUndefined();
      expect(planned.ranges.at(-1)!.through).toBeUndefined();
    });

    it('applies the filters: only matching rows are split', async () => {
      const where = { text: `"grp" = ${mark(1)}`, values: ['a'] };
      const matching = Number((await db.query({ text: `SELECT count(*) FROM items WHERE ${where.text}`, values: where.values }))[0]![0]);
      const planned = await plan({ where: where.text, values: where.values }, 3);
      expect(planned.rows).toBe(matching);
      const counts = await Promise.all(planned.ranges.map((r) => countIn(db, planned, r, where)));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(matching);
      expect(Math.max(...counts)).toBeLessThanOrEqual(1.5 * Math.min(...counts));
    });

    it('keeps a limit: the ranges hold the first rows only, the last one closed above', async () => {
      const planned = await plan({ limit: 1000 }, 4);
      expect(planned.rows).toBe(1000);
      expect(planned.ranges.at(-1)!.through).toBeDefined();
      const counts = await Promise.all(planned.ranges.map((r) => countIn(db, planned, r)));
      expect(counts).toEqual([250, 250, 250, 250]);
    });

    it('gives as many ranges as rows when asked for more parts than rows', async () => {
      const planned = await plan({ where: `"id" < ${mark(1)}`, values: [-2085] }, 5);
      expect(planned.rows).toBe(3);
      expect(planned.ranges.map((r) => r.rows)).toEqual([1, 1, 1]);
      const counts = await Promise.all(planned.ranges.map((r) => countIn(db, planned, r, { text: `"id" < ${mark(1)}`, values: [-2085] })));
      expect(counts).toEqual([1, 1, 1]);
    });

    it('gives one range of everything for zero rows', async () => {
      const planned = await planKeyRanges((q) => db.query(q), db.dialect, { table: 'empty_items', key: 'id', values: [] }, 4);
      expect(planned).toEqual({ key: 'id', ranges: [{ rows: 0 }], rows: 0 });
    });
  });
}

let dir: ScratchDir | undefined;
plannerSuite('SQLite', async () => {
  dir = scratchDir();
  return { url: `sqlite:${dir.file('ranges.db')}`, cleanup: async () => dir?.remove() };
});

let scratch: ScratchDatabase | undefined;
const pgUp = await postgresAvailable();
describe.skipIf(!pgUp)('PostgreSQL', () => {
  plannerSuite('PostgreSQL', async () => {
    scratch = await createScratchDatabase();
    return { url: scratch.url, cleanup: async () => scratch?.drop() };
  });

  describe('a large table, planned from a sample of its keys', () => {
    let big: ScratchDatabase;
    let db: Database;
    const ROWS = 150_000;
    const plan = (source: Partial<RangeSource>, parts: number) => planKeyRanges((q) => db.query(q), 'postgres', { table: 'big', key: 'id', values: [], ...source }, parts);

    beforeAll(async () => {
      big = await createScratchDatabase();
      db = openDatabase(big.url);
      // Skewed and gappy: a dense run, a sparse tail of squares, negatives; a third of the rows in group 'a'.
      await db.exec(`CREATE TABLE big (id bigint PRIMARY KEY, grp text NOT NULL);
        INSERT INTO big SELECT i, CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 100000) AS i;
        INSERT INTO big SELECT 1000000 + i::bigint * i * 1009, 'a' FROM generate_series(1, 30000) AS i;
        INSERT INTO big SELECT -i * 7, 'b' FROM generate_series(1, 20000) AS i;
        ANALYZE big`);
    }, 60_000);
    afterAll(async () => {
      await db?.close();
      await big?.drop();
    });

    it.each([2, 3, 4])('splits it into %i ranges within 1.5x of each other, every row once', async (parts) => {
      const planned = await plan({}, parts);
      expect(planned.sampled).toBe(true);
      expect(planned.ranges).toHaveLength(parts);
      expect(planned.rows).toBeGreaterThan(ROWS * 0.8);
      expect(planned.rows).toBeLessThan(ROWS * 1.2);
      const counts = await Promise.all(planned.ranges.map((r) => countIn(db, planned, r, undefined, 'big')));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(ROWS);
      expect(Math.max(...counts)).toBeLessThanOrEqual(1.5 * Math.min(...counts));
    });

    it('samples the matching rows only', async () => {
      const where = { text: '"grp" = $1', values: ['a'] };
      const planned = await plan({ where: where.text, values: where.values }, 4);
      expect(planned.sampled).toBe(true);
      const counts = await Promise.all(planned.ranges.map((r) => countIn(db, planned, r, where, 'big')));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(33_333 + 30_000);
      expect(Math.max(...counts)).toBeLessThanOrEqual(1.5 * Math.min(...counts));
    });

    it('takes a table grown since its last ANALYZE for its size now', async () => {
      await db.exec(`CREATE TABLE grown (id bigint PRIMARY KEY);
        INSERT INTO grown SELECT i FROM generate_series(1, 1000) AS i;
        ANALYZE grown;
        INSERT INTO grown SELECT i FROM generate_series(1001, 150000) AS i`);
      const planned = await planKeyRanges((q) => db.query(q), 'postgres', { table: 'grown', key: 'id', values: [] }, 2);
      expect(planned.sampled).toBe(true);
    });

    it('counts instead where a sample cannot serve: a limit, a rare filter', async () => {
      expect((await plan({ limit: 100_000 }, 2)).sampled).toBeUndefined();
      const rare = await plan({ where: '"id" < $1', values: [-139_000] }, 2);
      expect(rare.sampled).toBeUndefined();
      expect(rare.rows).toBe(143);
    });
  });
});
