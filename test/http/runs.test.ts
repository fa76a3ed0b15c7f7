import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import { loadPipelines } from '../../src/core/registry.ts';
import { openDatabase } from '../../src/db/open.ts';
import { type SluiceServer, createSluiceServer } from '../../src/http/server.ts';
import { bundled } from '../support/app.ts';
import { sluice as cli } from '../support/cli.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';
import { close, collect, eventually, get, json, listen, open } from './client.ts';

const TOKEN = 'runs-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
const dir = scratchDir('sluice-runs-');
const url = `sqlite:${dir.file('runs.db')}`;
let database: Database;
let server: SluiceServer;
let base: string;

interface RunJson {
  id: string;
  pipeline: string;
  status: string;
  trigger: string;
  who: string;
  rows: number;
  params: Record<string, unknown>;
  progress?: { rows: number; rowsPerSecond: number; source: string };
}

beforeAll(async () => {
  await seedTickets(url);
  database = openDatabase(url);
  const pipelines = new Map([...(await bundled), ...(await loadPipelines(new URL('../fixtures/ops/', import.meta.url).pathname))]);
  server = createSluiceServer({ database, token: TOKEN, pipelines });
  base = await listen(server.server);
});

afterAll(async () => {
  await close(server.server);
  await database.close();
  dir.remove();
});

describe('GET /api/runs', () => {
  it('lists downloads with who asked and their parameters, and a running one with its live progress', async () => {
    const done = await get(`${base}/api/pipelines/export-csv/output?status=sold`, auth);
    expect(done.status).toBe(200);
    const slow = await open(`${base}/api/pipelines/slow-numbers/output?batches=40&pauseMs=50`, auth);
    const { value: running } = await eventually(
      async () => json(await get(`${base}/api/runs?pipeline=slow-numbers&status=running`, auth)) as RunJson[],
      (runs) => (runs[0]?.progress?.rows ?? 0) > 0,
      10_000,
    );
    expect(running[0]).toMatchObject({ pipeline: 'slow-numbers', status: 'running', trigger: 'http', progress: { source: 'live' } });
    expect(running[0]!.who).toMatch(/^admin token from (::ffff:)?127\.0\.0\.1$/);
    const one = json(await get(`${base}/api/runs/${running[0]!.id}`, auth)) as RunJson;
    expect(one.id).toBe(running[0]!.id);
    expect(one.progress?.rows).toBeGreaterThan(0);
    expect((await collect(slow)).ending).toBe('end');

    const all = json(await get(`${base}/api/runs?limit=5`, auth)) as RunJson[];
    expect(all.map((r) => r.pipeline).slice(0, 2)).toEqual(['slow-numbers', 'export-csv']);
    expect(all[0]).toMatchObject({ status: 'succeeded', rows: 400, params: { batches: 40, pauseMs: 50 } });
    expect(all[1]).toMatchObject({ status: 'succeeded', params: { status: 'sold', batchSize: 500 } });
    expect(all[0]!.progress).toBeUndefined();
  });

  it('checks its query with the same rules as sluice runs, and sits behind the token', async () => {
    const bad = await get(`${base}/api/runs?status=bogus`, auth);
    expect(bad.status).toBe(400);
    expect(json(bad)).toEqual({ error: 'Invalid value for parameter "status": expected one of running, succeeded, failed, aborted, refused, skipped, abandoned, got "bogus".', param: 'status' });
    expect((await get(`${base}/api/runs?limt=3`, auth)).status).toBe(400);
    expect((await get(`${base}/api/runs`)).status).toBe(401);
    expect((await get(`${base}/api/runs/nope`, auth)).status).toBe(404);
    expect((await get(`${base}/api/runs/%E0%A4%A`, auth)).status).toBe(404);
  });
});

describe('sluice runs', () => {
  it('lists, filters, shows and prunes the history', async () => {
    const list = await cli(['runs', '--db', url]);
    expect(list.code).toBe(0);
    const lines = list.stdout.toString().split('\n');
    expect(lines[0]).toMatch(/^id +pipeline +status +via +who +started +took +rows +output \/ error$/);
    expect(lines.some((line) => /slow-numbers +succeeded +http/.test(line))).toBe(true);
    const asJson = JSON.parse((await cli(['runs', '--db', url, '--pipeline', 'export-csv', '--json'])).stdout.toString()) as RunJson[];
    expect(asJson.map((r) => r.pipeline)).toEqual(['export-csv']);
    const shown = await cli(['runs', 'show', asJson[0]!.id, '--db', url]);
    expect(shown.stdout.toString()).toContain(`id:           ${asJson[0]!.id}\npipeline:     export-csv\nstatus:       succeeded\nparameters:   {"status":"sold"`);
    expect((await cli(['runs', 'show', 'nope', '--db', url])).code).toBe(2);
    expect((await cli(['runs', '--status', 'lost', '--db', url])).stderr).toContain('Invalid value for --status');
    const pruned = await cli(['runs', 'prune', '--older-than', '0s', '--db', url]);
    expect(pruned.stdout.toString()).toMatch(/^Deleted 2 runs started before /);
    expect((await cli(['runs', '--db', url])).stdout.toString()).toBe('No runs match.\n');
    expect((await cli(['runs', 'prune', '--older-than', '90', '--db', url])).stderr).toContain('--older-than must be a number and a unit');
  });
});
