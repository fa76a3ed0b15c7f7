import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import type { Output } from '../../src/core/output.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { fuzzTickets } from '../support/fuzz-tickets.ts';
import { insertTickets, seedTickets } from '../support/tickets.ts';

/** Collects an export in memory. */
function memoryOutput(): Output & { bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    description: 'memory',
    bytes: () => Buffer.concat(chunks),
    open: () => [new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) })],
  };
}

const pgOk = await postgresAvailable();
const dir = scratchDir();
const sqliteUrl = `sqlite:${dir.file('fuzz.db')}`;
let scratch: ScratchDatabase | undefined;

async function exportBytes(name: string, database: string, params: Readonly<Record<string, string | number | boolean>>, copy: boolean): Promise<{ bytes: Buffer; rows: number; usedCopy: boolean; usedWorker: boolean }> {
  const output = memoryOutput();
  const messages: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, cb) => (messages.push(chunk.toString()), cb()) }));
  const summary = await runPipeline(await bundledPipeline(name), { database, params, output, inDatabase: copy, logger });
  return { bytes: output.bytes(), rows: summary.rows, usedCopy: messages.some((m) => m.includes('(COPY)')), usedWorker: messages.some((m) => m.includes('(a worker thread)')) };
}

beforeAll(async () => {
  const rows = fuzzTickets(3000, { seed: 42 });
  await seedTickets(sqliteUrl, rows);
  if (pgOk) {
    scratch = await createScratchDatabase();
    const pg = openDatabase(scratch.url);
    await insertTickets(pg, rows);
    await pg.close();
  }
});

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

const CASES: Array<[string, Readonly<Record<string, string | number | boolean>>]> = [
  ['export-csv', {}],
  ['export-csv', { escapeFormulas: false }],
  ['export-csv', { bom: true }],
  ['export-csv', { status: 'sold', limit: 700 }],
  ['export-csv', { q: 'É', soldFrom: '2026-03-01', soldTo: '2026-09-30' }],
  ['export-csv', { seller: ',' }],
  ['export-all-tickets', {}],
  ['export-all-tickets', { escapeFormulas: false }],
  ['number-barcode', {}],
  ['export-all-barcodes', {}],
  ['export-all-barcodes', { escapeFormulas: false }],
];

describe('SQLite worker-thread encoding', () => {
  it.each(CASES)('%s %j is byte-identical to the row-by-row path', async (name, params) => {
    const viaWorker = await exportBytes(name, sqliteUrl, params, true);
    const viaRows = await exportBytes(name, sqliteUrl, params, false);
    expect(viaWorker.usedWorker).toBe(true);
    expect(viaRows.usedWorker).toBe(false);
    expect(viaWorker.bytes.length).toBeGreaterThan(0);
    expect(viaWorker.bytes.equals(viaRows.bytes)).toBe(true);
    expect(viaWorker.rows).toBe(viaRows.rows);
  });
});

describe.skipIf(!pgOk)('PostgreSQL COPY fast path', () => {
  it.each(CASES)('%s %j is byte-identical to the row-by-row path and to SQLite', async (name, params) => {
    const viaCopy = await exportBytes(name, scratch!.url, params, true);
    const viaRows = await exportBytes(name, scratch!.url, params, false);
    const fromSqlite = await exportBytes(name, sqliteUrl, params, true);
    expect(viaCopy.usedCopy).toBe(true);
    expect(viaRows.usedCopy).toBe(false);
    expect(fromSqlite.usedWorker).toBe(true);
    expect(viaCopy.bytes.length).toBeGreaterThan(0);
    expect(viaCopy.bytes.equals(viaRows.bytes)).toBe(true);
    expect(viaCopy.bytes.equals(fromSqlite.bytes)).toBe(true);
    expect(viaCopy.rows).toBe(viaRows.rows);
  });
});
