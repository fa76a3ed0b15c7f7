import { createServer } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
// As an app imports it: the package's public entry point.
import { openDatabase, pipelineHandler, requireBearer } from '../../src/index.ts';
import exportCsv from '../../pipelines/export-csv.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';
import { close, get, listen } from './client.ts';

const dir = scratchDir('sluice-embed-');
const url = `sqlite:${dir.file('app.db')}`;

beforeAll(async () => {
  await seedTickets(url);
});
afterAll(() => dir.remove());

it('embeds in an Express app as the README shows', async () => {
  // --- README snippet ---
  const db = openDatabase(url); // one pool for the whole app
  const app = express();
  app.use('/api/admin', requireBearer('s3cret-0123456789'));
  app.get('/api/admin/tickets/export-csv', pipelineHandler(exportCsv, { database: db }));
  // ----------------------
  const server = createServer(app);
  const base = await listen(server);
  try {
    expect((await get(`${base}/api/admin/tickets/export-csv`)).status).toBe(401);
    const reply = await get(`${base}/api/admin/tickets/export-csv?status=sold`, { Authorization: 'Bearer s3cret-0123456789' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-disposition']).toMatch(/^attachment; filename="export-csv-\d{4}-\d{2}-\d{2}\.csv"$/);
    // The CSV's records end in LF (a CRLF appears only inside a quoted value).
    const text = reply.body.toString('utf8');
    expect(text.split('\n')[0]).toBe('id,ticket_number,barcode,category,price_cents,status,buyer_name,buyer_email,buyer_phone,seller,sold_at,created_at,updated_at');
    expect(text.endsWith('\n')).toBe(true);
  } finally {
    await close(server);
    await db.close();
  }
});
