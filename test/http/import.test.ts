import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import type { Row } from '../../src/core/types.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createSluiceServer } from '../../src/http/server.ts';
import { TICKET_COLUMNS, initTicketsTable } from '../../raffle/tickets.ts';
import { raffleServer } from '../support/app.ts';
import { exportTo } from '../support/run.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, seedTickets } from '../support/tickets.ts';
import { close, listen } from './client.ts';

const TOKEN = 'import-test-token-0123456789';
const dir = scratchDir('sluice-http-import-');
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase | undefined;
let csv = '';

beforeAll(async () => {
  const source = `sqlite:${dir.file('source.db')}`;
  await seedTickets(source);
  csv = (await exportTo('export-csv', source, dir.file('awkward.csv'))).text;
  if (pgOk) scratch = await createScratchDatabase();
});
afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function post(base: string, path: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const engines: Array<[string, () => string]> = [['sqlite', () => `sqlite:${dir.file('target.db')}`]];
if (pgOk) engines.push(['postgres', () => scratch!.url]);

describe.each(engines)('POST /api/admin/tickets/import on %s', (_engine, url) => {
  let database: Database;
  let base = '';
  let stop = async () => undefined as void;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    database = openDatabase(url(), { create: true });
    await database.exec('DROP TABLE IF EXISTS tickets');
    await initTicketsTable(database);
    const { server } = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN, maxImportBytes: 64 * 1024, history: false });
    base = await listen(server);
    stop = async () => {
      await close(server);
      await database.close();
    };
  });
  afterAll(() => stop());

  const table = (): Promise<Row[]> => database.query({ text: `SELECT ${TICKET_COLUMNS.map((c) => c.name).join(', ')} FROM tickets ORDER BY id`, values: [] });

  it('refuses without the token (401), a GET (405) and a body of another type (415), before reading it', async () => {
    expect((await post(base, '/api/admin/tickets/import', csv, { 'Content-Type': 'text/csv' })).status).toBe(401);
    expect((await post(base, '/api/admin/tickets/import', csv, { ...auth, 'Content-Type': 'text/plain' })).status).toBe(415);
    const get = await new Promise<number>((resolve) => request(`${base}/api/admin/tickets/import`, { headers: auth }, (res) => resolve(res.statusCode ?? 0)).end());
    expect(get).toBe(405);
  });

  it('answers 400 with the line of a body it cannot read, and writes nothing', async () => {
    const broken = `${csv.split('\n').slice(0, 3).join('\n')}\n7,"T-7,unclosed\n`;
    const answer = await post(base, '/api/admin/tickets/import?strictBarcodes=false', broken, { ...auth, 'Content-Type': 'text/csv; charset=utf-8' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/^the request body, line \d+: not valid CSV/);
    expect(await table()).toEqual([]);
  });

  it('refuses a body over the size limit with 413', async () => {
    const big = Buffer.alloc(65 * 1024, 'a');
    expect((await post(base, '/api/admin/tickets/import', big, { ...auth, 'Content-Type': 'text/csv' })).status).toBe(413);
  });

  it('imports an export streamed as the body: the identical table, a JSON summary with the first rejections', async () => {
    const answer = await post(base, '/api/admin/tickets/import?strictBarcodes=false', csv, { ...auth, 'Content-Type': 'text/csv' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ status: 'succeeded', rows: 6, import: { inserted: 6, updated: 0, skipped: 0, rejected: 0 }, rejected: 0, rejections: [] });
    expect(await table()).toEqual(AWKWARD_TICKETS);
    const again = await post(base, '/api/admin/tickets/import', csv, { ...auth, 'Content-Type': 'text/csv' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ import: { inserted: 0, rejected: 5 }, rejected: 6 });
    expect((again.body.rejections as Array<{ where: string; reason: string }>)[0]).toMatchObject({ where: 'line 7', reason: 'barcode 0000000A is not 8 digits' });
  });
});
