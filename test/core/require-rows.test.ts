import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import { runPipeline } from '../../src/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';
import { pipelineHandler } from '../../src/http/handler.ts';
import { SluiceMetrics } from '../../src/metrics/prometheus.ts';
import { csvSink } from '../../src/sinks/csv.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { sqlSelect } from '../../src/sources/sql-select.ts';
import { filterRows } from '../../src/transforms/filter-rows.ts';
import { close, eventually, get, json, listen, memoryLogger, open } from '../http/client.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';

const dir = scratchDir('sluice-require-rows-');
const url = `sqlite:${dir.file('t.db')}`;

/** The README's example: the source finds sold tickets, a transform keeps the VIP ones at or above a price. */
const soldVip = definePipeline({
  name: 'export-sold-vip',
  description: 'Sold VIP tickets above a price, as CSV',
  params: {},
  source: sqlSelect({
    summary: 'Sold tickets by id',
    table: 'tickets',
    columns: TICKET_COLUMNS,
    orderBy: 'id',
    filters: [{ op: 'equals', param: 'status', column: 'status' }],
    params: { status: { type: 'enum', values: ['sold'], default: 'sold', description: 'Status' } },
  }),
  transforms: [
    filterRows({
      summary: 'VIP at or above minPrice',
      params: { minPrice: { type: 'integer', min: 0, default: 1000, description: 'Lowest price in cents' } },
      predicate: (params, columns) => {
        const category = columns.findIndex((c) => c.name === 'category');
        const price = columns.findIndex((c) => c.name === 'price_cents');
        return (row) => row[category] === 'vip' && Number(row[price]) >= params.minPrice;
      },
    }),
  ],
  sink: csvSink(),
  requireRows: { message: 'No tickets found' },
});

beforeAll(async () => {
  await seedTickets(url);
  const { sluice } = await import('../support/cli.ts');
  const seeded = await sluice(['run', 'seed-tickets', '--db', url, '--count', '20000', '--log-level', 'warn']);
  expect(seeded.code, seeded.stderr).toBe(0);
});
afterAll(() => dir.remove());

describe('requireRows counts the rows that reach the sink, after the transforms', () => {
  it('refuses with NO_ROWS when the transforms drop every row, creating no file and keeping an old one', async () => {
    const out = dir.file('vip.csv');
    writeFileSync(out, 'previous\n');
    const run = runPipeline(soldVip, { database: url, params: { minPrice: 999_999 }, output: fileOutput(out) });
    await expect(run).rejects.toMatchObject({ code: 'NO_ROWS', exitCode: 3, message: 'No tickets found' });
    expect(readFileSync(out, 'utf8')).toBe('previous\n');
    expect(partFilesOf(out)).toEqual([]);
    const fresh = dir.file('never.csv');
    await expect(runPipeline(soldVip, { database: url, params: { minPrice: 999_999 }, output: fileOutput(fresh) })).rejects.toMatchObject({ code: 'NO_ROWS' });
    expect(existsSync(fresh)).toBe(false);
  });

  it('writes the rows that pass', async () => {
    const out = dir.file('vip-ok.csv');
    const summary = await runPipeline(soldVip, { database: url, params: { minPrice: 2500 }, output: fileOutput(out) });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(summary.rows).toBe(lines.length - 1);
    expect(summary.rows).toBeGreaterThan(100);
    expect(lines.slice(1).every((line) => line.split(',')[3] === 'vip')).toBe(true);
  });

  it('answers HTTP 404 before any body byte when the transforms drop every row', async () => {
    const database = openDatabase(url);
    const metrics = new SluiceMetrics();
    const server = createServer(pipelineHandler(soldVip, { database, metrics }));
    const base = await listen(server);
    try {
      const reply = await get(`${base}/?minPrice=999999`);
      expect(reply.status).toBe(404);
      expect(json(reply)).toEqual({ error: 'No tickets found' });
      expect(reply.headers['content-disposition']).toBeUndefined();
      const ok = await get(`${base}/?minPrice=2500`);
      expect(ok.status).toBe(200);
      expect(ok.body.toString('utf8')).toMatch(/^id,ticket_number,/);
    } finally {
      await close(server);
      await database.close();
    }
  });
});

describe('a client that leaves before the first body byte', () => {
  it('aborts the run while it is still in its pre-checks', async () => {
    let sawAbort = false;
    let preflightStarted = false;
    const slow = definePipeline({
      ...soldVip,
      name: 'slow-preflight',
      preflight: (ctx) =>
        new Promise<void>((resolve, reject) => {
          preflightStarted = true;
          const timer = setTimeout(resolve, 10_000);
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            clearTimeout(timer);
            reject(ctx.signal.reason);
          });
        }),
    });
    const database = openDatabase(url);
    const metrics = new SluiceMetrics();
    const { logger, records } = memoryLogger();
    const server = createServer(pipelineHandler(slow, { database, metrics, logger }));
    const base = await listen(server);
    try {
      const pending = open(`${base}/?minPrice=2500`).catch(() => undefined);
      expect((await eventually(async () => preflightStarted, (v) => v, 5000)).ok).toBe(true);
      server.closeAllConnections();
      await pending;
      expect((await eventually(async () => sawAbort, (v) => v, 1000)).ok).toBe(true);
      expect((await eventually(async () => metrics.activeRuns, (n) => n === 0, 1000)).ok).toBe(true);
      expect(records.some((r) => r.msg === 'export aborted: the client closed the connection')).toBe(true);
    } finally {
      await close(server);
      await database.close();
    }
  });
});

describe('empty query parameters', () => {
  it.each(['status=', 'minPrice=', 'batchSize=', 'escapeFormulas=', 'bom='])('?%s is 400 naming the parameter, not "no filter"', async (query) => {
    const database = openDatabase(url);
    const server = createServer(pipelineHandler(soldVip, { database }));
    const base = await listen(server);
    try {
      const reply = await get(`${base}/?${query}`);
      expect(reply.status).toBe(400);
      expect((json(reply) as { error: string }).error).toMatch(new RegExp(`^Invalid value for parameter "${query.slice(0, -1)}": .*got an empty value\\.$`));
    } finally {
      await close(server);
      await database.close();
    }
  });

  it('?bom=1 and ?bom=on mean true, ?bom=0 false, ?bom=maybe is 400', async () => {
    const database = openDatabase(url);
    const server = createServer(pipelineHandler(soldVip, { database }));
    const base = await listen(server);
    try {
      for (const word of ['1', 'on', 'TRUE']) expect((await get(`${base}/?minPrice=2500&bom=${word}`)).body.subarray(0, 3).toString('hex')).toBe('efbbbf');
      expect((await get(`${base}/?minPrice=2500&bom=0`)).body.subarray(0, 3).toString('utf8')).toBe('id,');
      expect((await get(`${base}/?minPrice=2500&bom=maybe`)).status).toBe(400);
    } finally {
      await close(server);
      await database.close();
    }
  });
});
