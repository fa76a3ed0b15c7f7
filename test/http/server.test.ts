import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePipeline } from '../../src/core/describe.ts';
import { bundled, bundledPipeline, raffleServer } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import type { Database } from '../../src/core/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { type SluiceServer, createSluiceServer } from '../../src/http/server.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, insertTickets } from '../support/tickets.ts';
import { close, get, json, listen } from './client.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url));
const XLSX_PIPELINE = fileURLToPath(new URL('../../pipelines/export-xlsx.ts', import.meta.url));
const hasXlsx = existsSync(XLSX_PIPELINE);
if (!hasXlsx) process.stderr.write('\n*** pipelines/export-xlsx.ts is absent: the GET /api/admin/tickets/export (XLSX) test is SKIPPED ***\n\n');

const TOKEN = 'test-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
const dir = scratchDir('sluice-serve-');
const dbUrl = `sqlite:${dir.file('tickets.db')}`;
let database: Database;
let sluice: SluiceServer;
let base: string;

async function cliBytes(name: string, params: Record<string, string> = {}): Promise<Buffer> {
  const path = dir.file(`${name}-${Object.values(params).join('-')}.out`);
  await runPipeline(await bundledPipeline(name), { params, database: dbUrl, output: fileOutput(path) });
  return readFileSync(path);
}

beforeAll(async () => {
  database = openDatabase(dbUrl, { create: true });
  await insertTickets(database, AWKWARD_TICKETS);
  sluice = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN, maxConcurrent: 2 });
  base = await listen(sluice.server);
});

afterAll(async () => {
  await close(sluice.server);
  await database.close();
  dir.remove();
});

describe('sluice server routes', () => {
  it('requires the bearer token on /api/admin/* and /api/pipelines*', async () => {
    for (const path of ['/api/admin/tickets/export-csv', '/api/admin/tickets/export', '/api/pipelines', '/api/pipelines/export-csv/output', '/api/admin/nothing']) {
      const headerSets: Array<Record<string, string>> = [{}, { Authorization: 'Bearer wrong-token' }, { Authorization: `Basic ${TOKEN}` }, { Authorization: `Bearer ${TOKEN}x` }];
      for (const headers of headerSets) {
        const reply = await get(`${base}${path}`, headers);
        expect(reply.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(reply.headers['www-authenticate']).toBe('Bearer');
        expect(reply.headers['content-disposition']).toBeUndefined();
      }
    }
  });

  it('serves the admin downloads byte-identical to the CLI', async () => {
    const cases: Array<[string, string, Record<string, string>]> = [
      ['/api/admin/tickets/number-barcode', 'number-barcode', {}],
      ['/api/admin/tickets/export-all-barcodes', 'export-all-barcodes', {}],
      ['/api/admin/tickets/export-csv?category=vip', 'export-csv', { category: 'vip' }],
      ['/api/pipelines/export-all-tickets/output', 'export-all-tickets', {}],
    ];
    for (const [path, name, params] of cases) {
      const reply = await get(`${base}${path}`, auth);
      expect(reply.status, path).toBe(200);
      expect(reply.body.equals(await cliBytes(name, params)), path).toBe(true);
    }
  });

  it('lists every pipeline with its parameters', async () => {
    const reply = await get(`${base}/api/pipelines`, auth);
    expect(reply.status).toBe(200);
    const expected = [...(await bundled).values()].map(describePipeline);
    expect(json(reply)).toEqual(JSON.parse(JSON.stringify(expected)));
    const names = (json(reply) as Array<{ name: string }>).map((p) => p.name);
    expect(names).toContain('export-csv');
  });

  it('refuses output of writer and unknown pipelines, unknown routes and other methods', async () => {
    const writer = await get(`${base}/api/pipelines/seed-tickets/output?count=1`, auth);
    expect(writer.status).toBe(404);
    expect((json(writer) as { error: string }).error).toContain('writes to a database');
    expect((await get(`${base}/api/pipelines/nope/output`, auth)).status).toBe(404);
    expect((await get(`${base}/api/admin/tickets/unknown`, auth)).status).toBe(404);
    expect((await get(`${base}/elsewhere`)).status).toBe(404);
    const post = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request(`${base}/api/admin/tickets/export-csv`, { method: 'POST', headers: auth }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(post).toBe(405);
  });

  it('answers 400 and 404 with JSON on the admin routes', async () => {
    const bad = await get(`${base}/api/admin/tickets/export-csv?limit=0`, auth);
    expect(bad.status).toBe(400);
    expect((json(bad) as { error: string }).error).toContain('"limit"');
    const none = await get(`${base}/api/admin/tickets/export-csv?seller=nobody`, auth);
    expect(none.status).toBe(404);
    expect(json(none)).toEqual({ error: 'No tickets found' });
  });

  it('answers 503 with Retry-After beyond the concurrent export bound', async () => {
    const held = [sluice.limiter.tryAcquire()!, sluice.limiter.tryAcquire()!];
    try {
      const busy = await get(`${base}/api/admin/tickets/export-csv`, auth);
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('5');
      expect((await get(`${base}/healthz`)).status).toBe(200);
    } finally {
      held.forEach((release) => release());
    }
    expect((await get(`${base}/api/admin/tickets/export-csv`, auth)).status).toBe(200);
  });

  it('answers /healthz without a token and /metrics in Prometheus text', async () => {
    const health = await get(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(json(health)).toEqual({ status: 'ok', activeExports: 0 });
    const metrics = await get(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = metrics.body.toString('utf8');
    expect(text).toMatch(/^# TYPE sluice_runs_started_total counter$/m);
    expect(text).toMatch(/^sluice_runs_finished_total\{pipeline="export-csv",status="succeeded"\} [1-9]\d*$/m);
    expect(text).toMatch(/^sluice_runs_finished_total\{pipeline="export-csv",status="refused"\} 1$/m);
    expect(text).toMatch(/^sluice_rows_exported_total\{pipeline="number-barcode"\} 6$/m);
    expect(text).toMatch(/^sluice_bytes_exported_total\{pipeline="number-barcode"\} [1-9]\d*$/m);
    expect(text).toMatch(/^sluice_active_runs 0$/m);
    expect(text).toMatch(/^sluice_run_duration_seconds_count\{pipeline="export-csv"\} [1-9]\d*$/m);
  });

  it.skipIf(!hasXlsx)('serves the Excel export (pipeline export-xlsx) with the same filters', async () => {
    const reply = await get(`${base}/api/admin/tickets/export?status=sold`, { ...auth, 'Accept-Encoding': 'gzip' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers['content-disposition']).toMatch(/^attachment; filename="export-xlsx-\d{4}-\d{2}-\d{2}\.xlsx"$/);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(reply.body as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0]!;
    expect(sheet.actualRowCount).toBe(1 + AWKWARD_TICKETS.filter((t) => t[5] === 'sold').length);
    const none = await get(`${base}/api/admin/tickets/export?seller=nobody`, auth);
    expect(none.status).toBe(404);
    expect(json(none)).toEqual({ error: 'No tickets found' });
  });
});

describe('sluice serve (the CLI command)', () => {
  it('prints a generated token once when ADMIN_TOKEN is unset, and serves with it', async () => {
    const env = { ...process.env, ADMIN_TOKEN: '' };
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', dbUrl, '--log-level', 'warn'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    try {
      const ready = await new Promise<{ token: string; url: string }>((resolve, reject) => {
        child.on('exit', (code) => reject(new Error(`sluice serve exited with ${code}: ${stderr}`)));
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
          const token = /token is: (\S+)/.exec(stderr)?.[1];
          const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
          if (token && url) resolve({ token, url });
        });
      });
      expect(ready.token.length).toBeGreaterThanOrEqual(32);
      expect((await get(`${ready.url}/api/admin/tickets/export-csv`)).status).toBe(401);
      const reply = await get(`${ready.url}/api/admin/tickets/export-csv`, { Authorization: `Bearer ${ready.token}` });
      expect(reply.status).toBe(200);
      expect(reply.body.equals(await cliBytes('export-csv'))).toBe(true);
      expect(stderr.split(ready.token).length - 1).toBe(1);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
