import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { pipelineHandler } from '../../src/http/handler.ts';
import { bundledPipeline } from '../support/app.ts';
import { scratchDir } from '../support/sqlite.ts';
import { sluice } from '../support/cli.ts';
import { get, memoryLogger, serverForSuite } from './client.ts';

const dir = scratchDir();
const url = `sqlite:${dir.file('tickets.db')}`;
let db: Database;
const pipeline = await bundledPipeline('export-all-tickets');
const { logger, records } = memoryLogger();

beforeAll(async () => {
  const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', url, '--count', '4000', '--reset', '--log-level', 'warn']);
  if (code !== 0) throw new Error(stderr);
  db = openDatabase(url);
});
afterAll(async () => {
  await db.close();
  dir.remove();
});

const serial = serverForSuite(() => createServer(pipelineHandler(pipeline, { database: db, history: false })));
const parallel = serverForSuite(() => createServer(pipelineHandler(pipeline, { database: db, history: false, parallel: 3, logger })));

describe('parallel downloads', () => {
  it('sends the same bytes with 3 readers as with 1, gzip or not', async () => {
    const variants: Array<Record<string, string>> = [{}, { 'accept-encoding': 'gzip' }];
    for (const headers of variants) {
      const one = await get(serial.url, headers);
      const three = await get(parallel.url, headers);
      expect(three.status).toBe(200);
      expect(three.body.length).toBeGreaterThan(10_000);
      expect(three.body.equals(one.body)).toBe(true);
    }
    const summaries = records.filter((r) => r.msg === 'export finished').map((r) => (r.summary as { notes?: { readers?: { count: number } } }).notes?.readers?.count);
    expect(summaries).toEqual([3, 3]);
  });
});
