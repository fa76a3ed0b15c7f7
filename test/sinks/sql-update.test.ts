import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import { runPipeline } from '../../src/index.ts';
import type { Row } from '../../src/core/types.ts';
import { openDatabase } from '../../src/db/open.ts';
import { ticketColumns } from '../../raffle/tickets.ts';
import { sqlUpdate, updateLayout } from '../../src/sinks/sql-update.ts';
import { sqlKeyset } from '../../src/sources/sql-keyset.ts';
import { mapRows } from '../../src/transforms/map-rows.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, insertTickets } from '../support/tickets.ts';

const pgOk = await postgresAvailable();
const dir = scratchDir();
let scratch: ScratchDatabase | undefined;

beforeAll(async () => {
  if (pgOk) scratch = await createScratchDatabase();
});
afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

/** Voids tickets and upper-cases buyer names; `bogus` gives one ticket a status the CHECK refuses. */
function voidTickets(bogusId?: number) {
  return definePipeline({
    name: 'void-tickets',
    description: 'test',
    params: {},
    // Columns deliberately not in [key, ...set] order: the sink must pick them by name.
    source: sqlKeyset({ summary: 'all', table: 'tickets', columns: ticketColumns('buyer_name', 'id', 'status'), key: 'id' }),
    transforms: [
      mapRows({
        summary: 'void',
        map: () => (row) => [row[0] === null ? null : String(row[0]).toUpperCase(), row[1]!, row[1] === bogusId ? 'bogus' : 'void'],
      }),
    ],
    sink: sqlUpdate({ table: 'tickets', key: 'id', columns: ['status', 'buyer_name'] }),
  });
}

async function table(url: string): Promise<Row[]> {
  const db = openDatabase(url);
  try {
    return await db.query({ text: 'SELECT id, status, buyer_name, barcode, updated_at FROM tickets ORDER BY id', values: [] });
  } finally {
    await db.close();
  }
}

async function fresh(engine: 'sqlite' | 'postgres', name: string): Promise<string> {
  const url = engine === 'sqlite' ? `sqlite:${dir.file(`${name}.db`)}` : scratch!.url;
  const db = openDatabase(url, { create: true });
  try {
    await db.exec('DROP TABLE IF EXISTS tickets');
    await insertTickets(db);
  } finally {
    await db.close();
  }
  return url;
}

const original = AWKWARD_TICKETS.map((t) => [t[0], t[5], t[6], t[2], t[12]]);

describe.each([
  { engine: 'sqlite' as const, skip: false },
  { engine: 'postgres' as const, skip: !pgOk },
])('sink.sql-update on $engine', ({ engine, skip }) => {
  it.skipIf(skip)('updates exactly the named columns of every row, batch by batch', async () => {
    const url = await fresh(engine, 'all');
    const summary = await runPipeline(voidTickets(), { database: url, params: { batchSize: 2 } });
    expect(summary.rows).toBe(6);
    expect(summary.warnings).toEqual({});
    expect(await table(url)).toEqual(original.map(([id, , buyer, barcode, updated]) => [id, 'void', buyer === null ? null : String(buyer).toUpperCase(), barcode, updated]));
  });

  it.skipIf(skip)('applies a batch wholly or not at all: a failing row undoes its whole batch, earlier batches stay', async () => {
    const url = await fresh(engine, 'fail');
    await expect(runPipeline(voidTickets(4), { database: url, params: { batchSize: 2 } })).rejects.toMatchObject({ code: 'QUERY_FAILED' });
    const rows = await table(url);
    expect(rows.map((r) => r[1])).toEqual(['void', 'void', ...original.slice(2).map((r) => r[1])]);
    expect(rows.slice(2)).toEqual(original.slice(2));
  });

  it.skipIf(skip)('updateBatch reports the rows it changed; unknown keys change nothing', async () => {
    const url = await fresh(engine, 'direct');
    const db = openDatabase(url);
    try {
      const target = { table: 'tickets', key: ticketColumns('id')[0]!, columns: ticketColumns('barcode', 'updated_at') };
      const changed = await db.updateBatch(target, [
        [2, '55555555', '2026-06-01T12:00:00.000Z'],
        [999, '66666666', '2026-06-01T12:00:00.000Z'],
      ]);
      expect(changed).toBe(1);
      expect(await db.updateBatch(target, [])).toBe(0);
    } finally {
      await db.close();
    }
    const rows = await table(url);
    expect(rows[1]).toEqual([2, 'available', null, '55555555', '2026-06-01T12:00:00.000Z']);
    expect(rows.filter((r) => r[0] !== 2)).toEqual(original.filter((r) => r[0] !== 2));
  });
});

describe('updateLayout', () => {
  const config = { table: 't', key: 'id', columns: ['barcode', 'updated_at'] };
  it('passes batches through untouched when they already come as [key, ...columns]', () => {
    const { arrange, target } = updateLayout(config, ticketColumns('id', 'barcode', 'updated_at'));
    const batch: Row[] = [[1, 'a', 'b']];
    expect(arrange(batch)).toBe(batch);
    expect(target.key.name).toBe('id');
  });
  it('reorders by name otherwise, and names a missing column', () => {
    const { arrange } = updateLayout(config, ticketColumns('updated_at', 'status', 'barcode', 'id'));
    expect(arrange([['t', 's', 'b', 7]])).toEqual([[7, 'b', 't']]);
    expect(() => updateLayout(config, ticketColumns('id', 'barcode'))).toThrow(/no column "updated_at" \(the rows have id, barcode\)/);
  });
});
