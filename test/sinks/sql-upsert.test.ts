import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import { runPipeline } from '../../src/index.ts';
import type { Batch, Row } from '../../src/core/types.ts';
import { openDatabase } from '../../src/db/open.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';
import { type UpsertCounts, distinctKeys, sqlUpsert } from '../../src/sinks/sql-upsert.ts';
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

const engines: Array<'sqlite' | 'postgres'> = pgOk ? ['sqlite', 'postgres'] : ['sqlite'];

/** Ticket `id` as a new row: the awkward ticket 1's values under another id and name. */
function ticket(id: number | bigint, name: string): Row {
  const row = [...AWKWARD_TICKETS[0]!];
  row[0] = id;
  row[1] = `T-${id}`;
  row[2] = String(id).padStart(8, '7');
  row[6] = name;
  return row;
}

/**
 * Tickets 5 and 6 exist; 7 and 8 are new; 8 comes twice in one batch (the second is rejected
 * whatever the mode; across batches a repeat is an existing key like any other).
 */
const INCOMING: Batch[] = [[ticket(5, 'five again'), ticket(7, 'seven')], [ticket(8, 'eight'), ticket(8, 'eight twice'), ticket(6, 'six again')]];

function importer() {
  return definePipeline({
    name: 'import-test',
    description: 'test',
    params: {},
    source: { kind: 'source.test', summary: 'batches', columns: TICKET_COLUMNS, open: () => Readable.from(INCOMING.map((b) => b.map((r) => [...r])), { objectMode: true }) },
    transforms: [],
    sink: sqlUpsert({ table: 'tickets', key: 'id', commitRows: 1 }),
  });
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

async function names(url: string): Promise<Row[]> {
  const db = openDatabase(url);
  try {
    return await db.query({ text: 'SELECT id, buyer_name FROM tickets WHERE id >= 5 ORDER BY id', values: [] });
  } finally {
    await db.close();
  }
}

describe('distinctKeys', () => {
  it('keeps the first row of each key and points at the later repeats, bigints included', () => {
    expect(distinctKeys([[1], [2n], [1], [3], [2n]], 0)).toEqual({ rows: [[1], [2n], [3]], repeated: [2, 4] });
  });
});

describe.each(engines)('sqlUpsert on %s', (engine) => {
  it.each([
    ['insert', { inserted: 2, updated: 0, skipped: 0, rejected: 3 }, [[5, '  padded  '], [6, 'Zoë Ünïcødé 🎟️ 日本'], [7, 'seven'], [8, 'eight']]],
    ['upsert', { inserted: 2, updated: 2, skipped: 0, rejected: 1 }, [[5, 'five again'], [6, 'six again'], [7, 'seven'], [8, 'eight']]],
    ['skip-existing', { inserted: 2, updated: 0, skipped: 2, rejected: 1 }, [[5, '  padded  '], [6, 'Zoë Ünïcødé 🎟️ 日本'], [7, 'seven'], [8, 'eight']]],
  ] as const)('mode %s counts and writes what it says', async (mode, counts, table) => {
    const url = await fresh(engine, `upsert-${mode}`);
    const summary = await runPipeline(importer(), { database: url, params: { mode } });
    expect(summary.notes?.import as UpsertCounts).toEqual(counts);
    expect(summary.warnings.rejected ?? 0).toBe(counts.rejected);
    expect(await names(url)).toEqual(table);
  });
});
