import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import { runPipeline } from '../../src/index.ts';
import type { Row, StageContext, TransformSpec } from '../../src/core/types.ts';
import { SqlBinder } from '../../src/core/sql-binder.ts';
import { ticketColumns } from '../../raffle/tickets.ts';
import { sqlUpdate } from '../../src/sinks/sql-update.ts';
import { demoTicket } from '../../raffle/demo-tickets.ts';
import { sqlKeyset } from '../../src/sources/sql-keyset.ts';
import { mapRows } from '../../src/transforms/map-rows.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets, withDatabase } from '../support/tickets.ts';

const pgOk = await postgresAvailable();
const dir = scratchDir();
const scratches: ScratchDatabase[] = [];

afterAll(async () => {
  await Promise.all(scratches.map((s) => s.drop()));
  dir.remove();
});

type Engine = 'sqlite' | 'postgres';
const ENGINES = [
  { engine: 'sqlite' as const, skip: false },
  { engine: 'postgres' as const, skip: !pgOk },
];

/** 50 demo tickets: about 15 of them `available`, scattered. */
const TICKETS: Row[] = Array.from({ length: 50 }, (_, i) => demoTicket(i + 1, false));
const AVAILABLE = TICKETS.filter((t) => t[5] === 'available').length;
const STAMP = '2026-11-28T12:00:00.000Z';

async function seeded(engine: Engine, name: string): Promise<string> {
  let url: string;
  if (engine === 'sqlite') url = `sqlite:${dir.file(`${name}.db`)}`;
  else {
    const scratch = await createScratchDatabase();
    scratches.push(scratch);
    url = scratch.url;
  }
  await seedTickets(url, TICKETS);
  return url;
}

const dump = (url: string) => withDatabase(url, (db) => db.query({ text: 'SELECT id, status, updated_at, barcode FROM tickets ORDER BY id', values: [] }));

/** Voids the available tickets and stamps them: the same change in JavaScript and in SQL. */
function voidAvailable(onContext?: (ctx: StageContext) => void): TransformSpec {
  return {
    kind: 'transform.void-available',
    summary: 'test',
    columns: (input) => [...input, { name: 'updated_at', type: 'timestamp' }],
    open: (ctx, columns) => {
      onContext?.(ctx);
      const status = columns.findIndex((c) => c.name === 'status');
      return (batch) => batch.filter((row) => row[status] === 'available').map((row) => [...row.slice(0, status), 'void', ...row.slice(status + 1), STAMP]);
    },
    sqlChange: (ctx, _columns, sql) => {
      onContext?.(ctx);
      return { where: `status = ${sql.bind('available')}`, set: { status: `${sql.bind('void')}`, updated_at: sql.bind(STAMP) } };
    },
  };
}

function voidPipeline(transform: TransformSpec, columns = ['status', 'updated_at']) {
  return definePipeline({
    name: 'void-available',
    description: 'test',
    params: {},
    source: sqlKeyset({ summary: 'all', table: 'tickets', columns: ticketColumns('id', 'status'), key: 'id' }),
    transforms: [transform],
    sink: sqlUpdate({ table: 'tickets', key: 'id', columns }),
  });
}

/** A logger at debug level whose messages the test can read. */
function debugLogger() {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) messages.push((JSON.parse(line) as { msg: string }).msg);
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), messages };
}

const IN_PLACE = 'the database applies the pipeline in place, one UPDATE per page';

describe.each(ENGINES)('updating in place on $engine', ({ engine, skip }) => {
  // 50 rows: pages of 1, pages that end exactly on the last row (10, 25), a short last page (7),
  // and one page holding everything (1000).
  it.skipIf(skip).each([1, 7, 10, 25, 1000])('batch size %i: the same table and counts as the row path', async (batchSize) => {
    const inPlaceUrl = await seeded(engine, `in-place-${batchSize}`);
    const rowUrl = await seeded(engine, `rows-${batchSize}`);
    const { logger, messages } = debugLogger();
    const inPlace = await runPipeline(voidPipeline(voidAvailable()), { database: inPlaceUrl, params: { batchSize }, logger });
    const rows = await runPipeline(voidPipeline(voidAvailable()), { database: rowUrl, params: { batchSize }, inDatabase: false });
    expect(messages).toContain(IN_PLACE);
    expect(inPlace.rows).toBe(AVAILABLE);
    expect(rows.rows).toBe(AVAILABLE);
    const table = await dump(inPlaceUrl);
    expect(table).toEqual(await dump(rowUrl));
    expect(table.filter((r) => r[2] === STAMP)).toHaveLength(AVAILABLE);
    expect(table.every((r) => r[1] !== 'available')).toBe(true);
  });

  it.skipIf(skip)('a transform without an SQL form runs on the row path', async () => {
    const url = await seeded(engine, 'no-sql');
    const { logger, messages } = debugLogger();
    const transform = mapRows({ summary: 'void', columns: (input) => [...input, { name: 'updated_at', type: 'timestamp' }], map: () => (row) => [row[0]!, 'void', STAMP] });
    const summary = await runPipeline(voidPipeline(transform), { database: url, logger });
    expect(messages).not.toContain(IN_PLACE);
    expect(summary.rows).toBe(TICKETS.length);
    expect((await dump(url)).every((r) => r[1] === 'void' && r[2] === STAMP)).toBe(true);
  });

  it.skipIf(skip)('refuses a sink column that no row carries when the pipeline is defined, before anything runs', async () => {
    expect(() => voidPipeline(voidAvailable(), ['status', 'buyer_name'])).toThrow(
      expect.objectContaining({ code: 'INVALID_DEFINITION', message: expect.stringMatching(/^Pipeline "void-available": sink\.sql-update: no column "buyer_name" \(the rows have id, status, updated_at\)\.$/) }),
    );
  });

  it.skipIf(skip)('a page the database refuses is undone whole, earlier pages stay, later ones never run; the error says why', async () => {
    const url = await seeded(engine, 'refused-page');
    // Ticket 25 gets a status the table's CHECK refuses: page 3 of 10 ids (21-30) fails.
    const bogus: TransformSpec = {
      ...voidAvailable(),
      sqlChange: (_ctx, _columns, sql) => ({ set: { status: `CASE WHEN id = 25 THEN ${sql.bind('bogus')} ELSE ${sql.bind('void')} END`, updated_at: sql.bind(STAMP) } }),
    };
    const run = runPipeline(voidPipeline(bogus), { database: url, params: { batchSize: 10 } });
    await expect(run).rejects.toMatchObject({ code: 'QUERY_FAILED' });
    await expect(run).rejects.toThrow(/check/i);
    const statuses = (await dump(url)).map((r) => r[1]);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill('void'));
    expect(statuses.slice(20)).toEqual(TICKETS.slice(20).map((t) => t[5]));
  });

  it.skipIf(skip)('aborted between pages: whole pages are kept, the connection is released, a re-run finishes', async () => {
    const url = await seeded(engine, 'abort');
    const controller = new AbortController();
    // Abort once the first page is committed, from the run's own progress.
    const transform = voidAvailable((ctx) => ctx.metrics.onRows((rows) => rows > 0 && controller.abort()));
    const run = runPipeline(voidPipeline(transform), { database: url, params: { batchSize: 10 }, signal: controller.signal });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    const pageOne = TICKETS.slice(0, 10).filter((t) => t[5] === 'available').length;
    const voided = (await dump(url)).filter((r) => r[2] === STAMP).length;
    expect(voided).toBeGreaterThanOrEqual(pageOne);
    expect(voided).toBeLessThan(AVAILABLE);
    if (engine === 'postgres') {
      const name = new URL(url).pathname.slice(1);
      expect(await adminQuery('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])).toEqual([]);
    }
    const rerun = await runPipeline(voidPipeline(voidAvailable()), { database: url });
    expect(rerun.rows).toBe(AVAILABLE - voided);
    expect((await dump(url)).filter((r) => r[2] === STAMP)).toHaveLength(AVAILABLE);
  });
});

describe('SqlBinder', () => {
  it('numbers values in the order they stand in the text, whatever order they were bound in', () => {
    const sql = new SqlBinder('postgres');
    const b = sql.bind('b');
    const a = sql.bind('a');
    expect(sql.render(`SELECT ${a}, ${b}, ${sql.slot('s')}, ${a}`, { s: 3 })).toEqual({ text: 'SELECT $1, $2, $3, $4', values: ['a', 'b', 3, 'a'] });
    const lite = new SqlBinder('sqlite');
    const x = lite.bind(1);
    expect(lite.render(`${lite.slot('y')} < ${x}`, { y: 0 })).toEqual({ text: '? < ?', values: [0, 1] });
  });

  it('refuses to render a slot it was not given a value for', () => {
    const sql = new SqlBinder('sqlite');
    expect(() => sql.render(`x > ${sql.slot('after')}`)).toThrow(/no value for slot "after"/);
  });

  describe.each(ENGINES)('notAmong on $engine', ({ engine, skip }) => {
    let url = '';
    beforeAll(async () => {
      if (!skip) url = await seeded(engine, 'not-among');
    });

    it.skipIf(skip).each([
      { name: 'none', keys: [], expected: 50 },
      { name: 'three', keys: [1, 2, 50], expected: 47 },
      { name: '20,000', keys: Array.from({ length: 20_000 }, (_, i) => i + 1), expected: 0 },
    ])('excludes exactly the listed keys: $name', async ({ keys, expected }) => {
      const count = await withDatabase(url, (db) => {
        const sql = new SqlBinder(db.dialect);
        return db.query(sql.render(`SELECT count(*) FROM tickets WHERE ${sql.notAmong('id', keys)}`));
      });
      expect(Number(count[0]![0])).toBe(expected);
    });
  });
});
