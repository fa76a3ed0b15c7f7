import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { type RequestListener, type Server, createServer, request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from '../../src/core/define.ts';
import { bundled, bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import type { Database } from '../../src/core/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { pipelineHandler } from '../../src/http/handler.ts';
import { type Limiter, createLimiter } from '../../src/http/limiter.ts';
import { SluiceMetrics } from '../../src/metrics/prometheus.ts';
import { sluice } from '../support/cli.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, insertTickets } from '../support/tickets.ts';
import { close, eventually, get, json, listen, memoryLogger, open, serverForSuite } from './client.ts';

const dir = scratchDir('sluice-http-');
const dbUrl = `sqlite:${dir.file('tickets.db')}`;
const emptyUrl = `sqlite:${dir.file('no-table.db')}`;
let database: Database;
let noTable: Database;
const limiter = createLimiter(1);

const cliRuns = new Map<string, Promise<Buffer>>();

/**
 * What the real CLI (`sluice run <name> --out -`, a child process) writes for the same pipeline
 * and parameters. The table does not change, so each distinct run is made once.
 */
function cliBytes(name: string, params: Record<string, string> = {}): Promise<Buffer> {
  const flags = Object.entries(params).flatMap(([param, value]) => [`--${param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, value]);
  const args = ['run', name, '--db', dbUrl, '--out', '-', '--log-level', 'warn', ...flags];
  const key = JSON.stringify(args);
  let run = cliRuns.get(key);
  if (!run) {
    run = sluice(args).then(({ code, stdout, stderr }) => {
      if (code !== 0 || stderr !== '') throw new Error(`sluice ${args.join(' ')} exited ${code}: ${stderr}`);
      return stdout;
    });
    cliRuns.set(key, run);
  }
  return run;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The same routes, mounted in Express and in a bare node:http server. */
function routes(): Array<[string, ReturnType<typeof pipelineHandler>]> {
  return [
    ['/export-csv', pipelineHandler('export-csv', { pipelines: bundled, database })],
    ['/number-barcode', pipelineHandler('number-barcode', { pipelines: bundled, database })],
    ['/export-all-barcodes', pipelineHandler('export-all-barcodes', { pipelines: bundled, database })],
    ['/plain-csv', pipelineHandler('export-csv', { pipelines: bundled, database, gzip: false, fileName: 'tickets.csv' })],
    ['/limited', pipelineHandler('export-csv', { pipelines: bundled, database, limiter })],
    ['/no-table', pipelineHandler('export-csv', { pipelines: bundled, database: noTable })],
    ['/writer', pipelineHandler('seed-tickets', { pipelines: bundled, database })],
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
    expect(json(bad)).toEqual({ error: 'Invalid value for parameter "status": expected one of available, sold, void, redeemed, got "bogus".', param: 'status' });
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

/**
 * A real limiter of one slot that counts what the handler asks of it. `held` takes the slot on
 * the test's behalf, as a running export would.
 */
function watchedLimiter(): { limiter: Limiter; acquired: () => number; released: () => number; hold: () => () => void; reset: () => void } {
  let inner = createLimiter(1);
  let acquired = 0;
  let released = 0;
  const limiter: Limiter = {
    max: 1,
    get active() {
      return inner.active;
    },
    tryAcquire() {
      acquired++;
      const release = inner.tryAcquire();
      if (!release) return undefined;
      let done = false;
      return () => {
        if (!done) released++;
        done = true;
        release();
      };
    },
  };
  return {
    limiter,
    acquired: () => acquired,
    released: () => released,
    hold: () => inner.tryAcquire()!,
    reset: () => {
      inner = createLimiter(1);
      acquired = 0;
      released = 0;
    },
  };
}

/** A request of any method; the reply's status and body. */
function send(method: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { method, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

const BAD_REQUESTS: Array<[string, string, string, number]> = [
  ['an invalid value', 'GET', '/guarded?status=bogus', 400],
  ['a bad date', 'GET', '/guarded?soldFrom=2026-02-30', 400],
  ['an unknown parameter', 'GET', '/guarded?stauts=sold', 400],
  ['a repeated parameter', 'GET', '/guarded?status=sold&status=void', 400],
  ['a bad batchSize', 'GET', '/guarded?batchSize=0', 400],
  ['HEAD', 'HEAD', '/guarded', 405],
  ['POST', 'POST', '/guarded?status=sold', 405],
  ['DELETE', 'DELETE', '/guarded', 405],
  ['a pipeline that writes to a database', 'GET', '/guarded-writer?count=5', 404],
];

describe.each([
  ['Express', true],
  ['node:http', false],
])('a bad request never takes an export slot (%s)', (_name, useExpress) => {
  const watch = watchedLimiter();
  const at = serverForSuite(() => {
    const guarded = pipelineHandler('export-csv', { pipelines: bundled, database, limiter: watch.limiter });
    const writer = pipelineHandler('seed-tickets', { pipelines: bundled, database, limiter: watch.limiter });
    if (useExpress) {
      const app = express();
      app.all('/guarded', guarded); // every method reaches the handler, which answers 405 itself
      app.all('/guarded-writer', writer);
      return createServer(app);
    }
    return createServer((req, res) => (new URL(req.url ?? '/', 'http://x').pathname === '/guarded' ? guarded : writer)(req, res));
  });

  it.each(BAD_REQUESTS)('%s: answered without asking the limiter, and a good request still gets the slot', async (_what, method, path, status) => {
    watch.reset();
    const bad = await send(method, `${at.url}${path}`);
    expect(bad.status).toBe(status);
    expect(watch.acquired()).toBe(0);
    expect(watch.limiter.active).toBe(0);
    const good = await get(`${at.url}/guarded?status=sold`);
    expect(good.status).toBe(200);
    expect(good.body.toString('utf8')).toMatch(/^id,ticket_number,barcode,/);
    expect([watch.acquired(), watch.released(), watch.limiter.active]).toEqual([1, 1, 0]);
  });

  it.each(BAD_REQUESTS)('%s: gets its own answer, not 503, while every slot is taken', async (_what, method, path, status) => {
    watch.reset();
    const release = watch.hold();
    try {
      const bad = await send(method, `${at.url}${path}`);
      expect(bad.status).toBe(status);
      expect(watch.acquired()).toBe(0);
      // The slot is still taken: a good request is the one that waits.
      expect((await get(`${at.url}/guarded?status=sold`)).status).toBe(503);
    } finally {
      release();
    }
    expect(watch.limiter.active).toBe(0);
  });
});

describe('handler metrics', () => {
  // Its own counters and its own requests: nothing another test did shows up here.
  const stats = new SluiceMetrics();
  const at = serverForSuite(() => createServer(pipelineHandler('export-csv', { pipelines: bundled, database, metrics: stats })));

  it('fed the Prometheus counters from the run summaries', async () => {
    expect((await get(`${at.url}/?status=sold`)).status).toBe(200);
    expect((await get(`${at.url}/?status=void&category=standard`)).status).toBe(404);
    expect((await get(`${at.url}/?status=void&category=standard`)).status).toBe(404);
    // A refused request runs nothing, so it counts nowhere.
    expect((await get(`${at.url}/?status=bogus`)).status).toBe(400);
    // The response can reach the client just before the run's promise settles on the server.
    const settled = await eventually(async () => stats.render(), (text) => /^sluice_active_runs 0$/m.test(text) && /status="succeeded"\} 1$/m.test(text), 2000);
    const text = settled.value;
    expect(text).toMatch(/^sluice_runs_started_total\{pipeline="export-csv"\} 3$/m);
    expect(text).toMatch(/^sluice_runs_finished_total\{pipeline="export-csv",status="succeeded"\} 1$/m);
    // "No tickets found" is a refusal, not a failure: an alert on failed runs must not fire for it.
    expect(text).toMatch(/^sluice_runs_finished_total\{pipeline="export-csv",status="refused"\} 2$/m);
    expect(text).toMatch(/^sluice_runs_finished_total\{pipeline="export-csv",status="failed"\} 0$/m);
    expect(text).not.toMatch(/code="NO_ROWS"/);
    expect(text).toMatch(/^sluice_active_runs 0$/m);
  });
});

describe('client disconnect on SQLite', () => {
  it('stops the iteration and ends the run as aborted', async () => {
    const url = `sqlite:${dir.file('big.db')}`;
    await runPipeline(await bundledPipeline('seed-tickets'), { params: { count: 200_000, batchSize: 5000 }, database: url });
    const big = openDatabase(url);
    const { logger, records } = memoryLogger();
    const stats = new SluiceMetrics();
    const server = createServer(pipelineHandler('export-csv', { pipelines: bundled, database: big, logger, metrics: stats }));
    const base = await listen(server);
    try {
      const res = await open(`${base}/`);
      expect(res.statusCode).toBe(200);
      await once(res, 'data');
      expect(stats.activeRuns).toBe(1);
      res.destroy();
      const ended = await eventually(async () => stats.activeRuns, (n) => n === 0, 2000);
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
