import { PassThrough } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyOutQuery } from '../../src/db/postgres-copy-out.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';

const pgOk = await postgresAvailable();

function message(code: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

/** A pg connection's socket, fed `bytes` in pieces of `piece`; what the query passed on and what pg got back. */
async function copyThrough(bytes: Buffer, piece: number): Promise<{ data: Buffer; toPg: Buffer; ended: boolean }> {
  const stream = new PassThrough();
  const toPg: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => toPg.push(chunk));
  const query = new CopyOutQuery('COPY x TO STDOUT');
  query.submit({ stream, query: () => undefined });
  const data: Buffer[] = [];
  let ended = false;
  query.on('data', (chunk: Buffer) => data.push(Buffer.from(chunk)));
  query.on('end', () => (ended = true));
  for (let at = 0; at < bytes.length; at += piece) {
    stream.write(bytes.subarray(at, at + piece));
    await turn();
  }
  await turn();
  await turn();
  return { data: Buffer.concat(data), toPg: Buffer.concat(toPg), ended };
}

describe('CopyOutQuery: COPY TO STDOUT read off pg’s socket', () => {
  const payloads = ['1,a\n', '2,"b\nc"\n', 'x'.repeat(3000) + '\n', '', '4,d\n'];
  const after = Buffer.concat([message('C', 'COPY 5\0'), message('Z', 'I')]);
  const copy = Buffer.concat([
    message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0])),
    ...payloads.slice(0, 2).map((p) => message('d', p)),
    message('N', 'a notice'),
    ...payloads.slice(2).map((p) => message('d', p)),
    message('c'),
    after,
  ]);

  it.each([1, 2, 5, 7, 64, 4096, copy.length])('passes on the CopyData payloads and gives pg the rest, in pieces of %i bytes', async (piece) => {
    const { data, toPg, ended } = await copyThrough(copy, piece);
    expect(data.toString()).toBe(payloads.join(''));
    expect(toPg.equals(after)).toBe(true);
    expect(ended).toBe(true);
  });

  it('hands pg an ErrorResponse whole, and does not end the stream (pg fails the query)', async () => {
    const error = Buffer.concat([message('E', 'SERROR\0Mboom\0\0'), message('Z', 'I')]);
    for (const piece of [1, 3, 1000]) {
      const { data, toPg, ended } = await copyThrough(Buffer.concat([message('H', Buffer.alloc(7)), message('d', 'ok\n'), error]), piece);
      expect(data.toString()).toBe('ok\n');
      expect(toPg.equals(error)).toBe(true);
      expect(ended).toBe(false);
    }
  });
});

describe.skipIf(!pgOk)('CopyOutQuery on the server', () => {
  let scratch: ScratchDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await scratch?.drop();
  });

  async function run(text: string): Promise<{ data: string; rows: number }> {
    const query = client.query(new CopyOutQuery(text) as unknown as pg.Submittable) as unknown as CopyOutQuery;
    const chunks: Buffer[] = [];
    for await (const chunk of query) chunks.push(chunk as Buffer);
    return { data: Buffer.concat(chunks).toString(), rows: query.rowCount };
  }

  it('reads a COPY of 100,000 rows, counts them, and leaves the client usable', async () => {
    const { data, rows } = await run("COPY (SELECT i, repeat('x', i % 300) FROM generate_series(1, 100000) i) TO STDOUT WITH (FORMAT csv)");
    expect(rows).toBe(100_000);
    const lines = data.split('\n');
    expect(lines).toHaveLength(100_001);
    expect(lines[99_999]).toBe(`100000,${'x'.repeat(100_000 % 300)}`);
    expect((await client.query('SELECT 41 + 1 AS n')).rows[0].n).toBe(42);
  });

  it('fails with the server’s error when the query fails half-way, and leaves the client usable', async () => {
    await expect(run('COPY (SELECT 1 / (50000 - i) FROM generate_series(1, 100000) i) TO STDOUT')).rejects.toThrow(/division by zero/);
    expect((await client.query('SELECT 1 AS n')).rows[0].n).toBe(1);
  });
});
