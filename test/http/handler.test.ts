import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { type RequestListener, type Server, createServer, request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from '../../src/core/define.ts';
import { getPipeline } from '../../src/core/registry.ts';
import { runPipeline } from '../../src/core/run.ts';
import type { Database } from '../../src/db/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { pipelineHandler } from '../../src/http/handler.ts';
import { createLimiter } from '../../src/http/limiter.ts';
import { ServerMetrics } from '../../src/http/prometheus.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, insertTickets } from '../support/tickets.ts';
import { close, eventually, get, json, listen, memoryLogger, open, serverForSuite } from './client.ts';

const dir = scratchDir('sluice-http-');
const dbUrl = `sqlite:${dir.file('tickets.db')}`;
const emptyUrl = `sqlite:${dir.file('no-table.db')}`;
let database: Database;
let noTable: Database;
const limiter = createLimiter(1);
const metrics = new ServerMetrics();

/** What the CLI writes for the same pipeline and parameters (the same run, to a file). */
async function cliBytes(name: string, params: Record<string, string> = {}): Promise<Buffer> {
  const path = dir.file(`${name}-${Object.values(params).join('-')}.out`);
  await runPipeline(await getPipeline(name), { params, database: dbUrl, output: fileOutput(path) });
  return readFileSync(path);
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The same routes, mounted in Express and in a bare node:http server. */
function routes(): Array<[string, ReturnType<typeof pipelineHandler>]> {
  return [
    ['/export-csv', pipelineHandler('export-csv', { database, metrics })],
    ['/number-barcode', pipelineHandler('number-barcode', { database })],
    ['/export-all-barcodes', pipelineHandler('export-all-barcodes', { database })],
    ['/plain-csv', pipelineHandler('export-csv', { database, gzip: false, fileName: 'tickets.csv' })],
    ['/limited', pipelineHandler('export-csv', { database, limiter })],
    ['/no-table', pipelineHandler('export-csv', { database: noTable })],
    ['/writer', pipelineHandler('seed-tickets', { database })],
  ];
}

function expressApp(): Server {
  const app = express();
  for (const [path, handler] of routes()) app.get(path, handler);
  return createServer(app);
}

function plainServer(): Server {
  const table = new Map(routes());
  const listener: RequestListener = (req, res) => {
    const handler = table.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  };
  return createServer(listener);
}

beforeAll(async () => {
  database = openDatabase(dbUrl, { create: true });
  await insertTickets(database, AWKWARD_TICKETS);
  writeFileSync(dir.file('no-table.db'), '');
  noTable = openDatabase(emptyUrl);
});

afterAll(async () => {
  await database.close();
  await noTable.close();
  dir.remove();
});

describe.each([
  ['Express', expressApp],
  ['node:http', plainServer],
])('pipelineHandler in %s', (_name, make) => {
  const at = serverForSuite(make);

  it('streams the filtered CSV byte-identical to the CLI, with download headers', async () => {
    const reply = await get(`${at.url}/export-csv?status=sold&batchSize=1`);
    expect(reply.status).toBe(200);
    expect(reply.ending).toBe('end');
    expect(reply.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(reply.headers['content-disposition']).toBe(`attachment; filename="export-csv-${today()}.csv"`);
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    const expected = await cliBytes('export-csv', { status: 'sold' });
    expect(parse(expected, { relax_column_count: false }).map((r: string[]) => r[0])).toEqual(['id', '1', '3', '6']);
    expect(reply.body.equals(expected)).toBe(true);
  });

  it('serves CSV and TXT exports byte-identical to the CLI', async () => {
    const csv = await get(`${at.url}/number-barcode`);
    expect(csv.headers['content-disposition']).toBe(`attachment; filename="number-barcode-${today()}.csv"`);
    expect(csv.body.equals(await cliBytes('number-barcode'))).toBe(true);
    const txt = await get(`${at.url}/export-all-barcodes`);
    expect(txt.status).toBe(200);
    expect(txt.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(txt.headers['content-disposition']).toBe(`attachment; filename="export-all-barcodes-${today()}.txt"`);
    expect(txt.body.toString('utf8')).toContain('00012345');
    expect(txt.body.equals(await cliBytes('export-all-barcodes'))).toBe(true);
  });

  it('compresses with gzip when the client accepts it', async () => {
    const reply = await get(`${at.url}/export-csv?q=example`, { 'Accept-Encoding': 'br;q=1, gzip;q=0.5' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers.vary).toBe('Accept-Encoding');
    expect(gunzipSync(reply.body).equals(await cliBytes('export-csv', { q: 'example' }))).toBe(true);
    const refused = await get(`${at.url}/export-csv?q=example`, { 'Accept-Encoding': 'gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.equals(await cliBytes('export-csv', { q: 'example' }))).toBe(true);
  });

  it('does not compress when the handler says so, and uses its file name', async () => {
    const reply = await get(`${at.url}/plain-csv`, { 'Accept-Encoding': 'gzip' });
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers['content-disposition']).toBe('attachment; filename="tickets.csv"');
    expect(reply.body.equals(await cliBytes('export-csv'))).toBe(true);
  });

  it('answers 400 naming the parameter for a bad value, an unknown name, a repeated name or a bad batchSize', async () => {
    const bad = await get(`${at.url}/export-csv?status=bogus`);
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(bad.headers['content-disposition']).toBeUndefined();
    expect(json(bad)).toEqual({ error: 'Invalid value for parameter "status": expected one of available, sold, void, redeemed, got "bogus".' });
    const date = await get(`${at.url}/export-csv?soldFrom=2026-02-30`);
    expect(date.status).toBe(400);
    expect((json(date) as { error: string }).error).toContain('"soldFrom"');
    const unknown = await get(`${at.url}/export-csv?stauts=sold`);
    expect(unknown.status).toBe(400);
    expect((json(unknown) as { error: string }).error).toMatch(/^Unknown parameter "stauts"/);
    const twice = await get(`${at.url}/export-csv?status=sold&status=void`);
    expect(twice.status).toBe(400);
    expect((json(twice) as { error: string }).error).toContain('"status"');
    const batch = await get(`${at.url}/export-csv?batchSize=0`);
    expect(batch.status).toBe(400);
    expect((json(batch) as { error: string }).error).toContain('"batchSize": expected an integer from 1 to 50000');
  });

  it('answers 404 "No tickets found" before any body byte when nothing matches', async () => {
    const reply = await get(`${at.url}/export-csv?status=void&category=standard`);
    expect(reply.status).toBe(404);
    expect(reply.body.toString('utf8')).toBe('{"error":"No tickets found"}\n');
    expect(reply.headers['content-disposition']).toBeUndefined();
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('answers 503 with Retry-After when every export slot is taken', async () => {
    const release = limiter.tryAcquire()!;
    try {
      const busy = await get(`${at.url}/limited`);
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('5');
      expect(json(busy)).toEqual({ error: 'Too many exports are running; retry shortly.' });
    } finally {
      release();
    }
    const free = await get(`${at.url}/limited`);
    expect(free.status).toBe(200);
    expect(limiter.active).toBe(0);
  });

  it('answers a database failure with a generic 500: no SQL, no stack', async () => {
    const reply = await get(`${at.url}/no-table`);
    expect(reply.status).toBe(500);
    expect(json(reply)).toEqual({ error: 'The export failed (MISSING_TABLE); see the server log.' });
    expect(reply.headers['content-disposition']).toBeUndefined();
  });

  it('answers HEAD with 405 instead of running the export for nothing', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      request(`${at.url}/export-csv`, { method: 'HEAD', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(405);
  });

  it('refuses a pipeline that writes to a database', async () => {
    const reply = await get(`${at.url}/writer?count=5`);
    expect(reply.status).toBe(404);
    expect((json(reply) as { error: string }).error).toContain('has no output to download');
  });
});

describe('handler metrics', () => {
  it('fed the Prometheus counters from the run summaries', () => {
    const text = metrics.render();
    expect(text).toMatch(/^sluice_runs_finished_total\{pipeline="export-csv",status="succeeded"\} [1-9]/m);
    expect(text).toMatch(/^sluice_runs_failed_total\{pipeline="export-csv",code="NO_ROWS"\} 2$/m);
    expect(text).toMatch(/^sluice_active_exports 0$/m);
  });
});

describe('client disconnect on SQLite', () => {
  it('stops the iteration and ends the run as aborted', async () => {
    const url = `sqlite:${dir.file('big.db')}`;
    await runPipeline(await getPipeline('seed-tickets'), { params: { count: 200_000, batchSize: 5000 }, database: url });
    const big = openDatabase(url);
    const { logger, records } = memoryLogger();
    const stats = new ServerMetrics();
    const server = createServer(pipelineHandler('export-csv', { database: big, logger, metrics: stats }));
    const base = await listen(server);
    try {
      const res = await open(`${base}/`);
      expect(res.statusCode).toBe(200);
      await once(res, 'data');
      expect(stats.activeExports).toBe(1);
      res.destroy();
      const ended = await eventually(async () => stats.activeExports, (n) => n === 0, 2000);
      expect(ended.ok).toBe(true);
      const record = records.find((r) => r.msg === 'export aborted: the client closed the connection');
      const summary = record?.summary as { status: string; rows: number } | undefined;
      expect(summary?.status).toBe('aborted');
      expect(summary!.rows).toBeLessThan(200_000);
    } finally {
      await close(server);
      await big.close();
    }
  });
});

// Type check only: a Pipeline object is accepted as well as a name.
export const _accepts: (p: Pipeline) => unknown = (p) => pipelineHandler(p, { database });
