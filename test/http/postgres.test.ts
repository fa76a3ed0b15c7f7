import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { type Socket, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundled, bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import { PostgresDatabase } from '../../src/db/postgres.ts';
import { openDatabase } from '../../src/db/open.ts';
import { pipelineHandler } from '../../src/http/handler.ts';
import { SluiceMetrics } from '../../src/metrics/prometheus.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, openConnections, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { close, collect, eventually, get, listen, memoryLogger, open, serverForSuite } from './client.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url));
const ROWS = 200_000;
const pgOk = await postgresAvailable();

/** Backends of the scratch database that are doing something (a running or suspended cursor). */
async function busyBackends(name: string): Promise<number> {
  const rows = await adminQuery<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'",
    [name],
  );
  return Number(rows[0]!.n);
}

describe.skipIf(!pgOk)('pipeline handlers on PostgreSQL', () => {
  const dir = scratchDir('sluice-http-pg-');
  let scratch: ScratchDatabase;
  let database: PostgresDatabase;
  const metrics = new SluiceMetrics();
  const { logger, records } = memoryLogger();

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    await runPipeline(await bundledPipeline('seed-tickets'), { params: { count: ROWS, batchSize: 5000 }, database: scratch.url });
    database = openDatabase(scratch.url) as PostgresDatabase;
  });

  afterAll(async () => {
    await database?.close();
    await scratch?.drop();
    dir.remove();
  });

  function routes(): Array<[string, ReturnType<typeof pipelineHandler>]> {
    return [['/export-csv', pipelineHandler('export-csv', { pipelines: bundled, database, metrics, logger })]];
  }
  const servers: Array<[string, () => Server]> = [
    [
      'Express',
      () => {
        const app = express();
        for (const [path, handler] of routes()) app.get(path, handler);
        return createServer(app);
      },
    ],
    [
      'node:http',
      () => {
        const [[path, handler]] = routes();
        return createServer((req, res) => (req.url?.startsWith(path!) ? handler!(req, res) : res.writeHead(404).end()));
      },
    ],
  ];

  it('serves the filtered export byte-identical to `sluice run` from the same database', async () => {
    const server = servers[0]![1]();
    const base = await listen(server);
    try {
      const out = dir.file('cli.csv');
      const cli = spawnSync(process.execPath, [BIN, 'run', 'export-csv', '--db', scratch.url, '--out', out, '--seller', 'seller-03', '--sold-from', '2026-01-05', '--log-level', 'warn'], {
        encoding: 'utf8',
      });
      expect(cli.status, cli.stderr).toBe(0);
      const reply = await get(`${base}/export-csv?seller=seller-03&soldFrom=2026-01-05&batchSize=333`, { 'Accept-Encoding': 'identity' });
      expect(reply.status).toBe(200);
      const expected = readFileSync(out);
      expect(expected.length).toBeGreaterThan(100_000);
      expect(reply.body.equals(expected)).toBe(true);
    } finally {
      await close(server);
    }
  });

  describe.each(servers)('in %s', (_name, make) => {
    const at = serverForSuite(make);

    it('cancels the query and releases its connection within a second when the client disconnects', async () => {
      const baseline = await openConnections(scratch.name);
      const before = (await metrics.render()).match(/status="aborted"\} (\d+)/)?.[1] ?? '0';
      const res = await open(`${at.url}/export-csv`);
      expect(res.statusCode).toBe(200);
      await once(res, 'data');
      // The export is mid-flight: a cursor is open on a checked-out connection.
      expect(await busyBackends(scratch.name)).toBeGreaterThan(0);
      expect(database.pool.totalCount - database.pool.idleCount).toBe(1);
      res.destroy();
      const released = await eventually(
        async () => ({ open: await openConnections(scratch.name), busy: await busyBackends(scratch.name), checkedOut: database.pool.totalCount - database.pool.idleCount }),
        (v) => v.open <= baseline && v.busy === 0 && v.checkedOut === 0,
        1000,
      );
      expect(released.value).toMatchObject({ busy: 0, checkedOut: 0 });
      expect(released.value.open).toBeLessThanOrEqual(baseline);
      expect(released.ok).toBe(true);
      await eventually(async () => metrics.activeRuns, (n) => n === 0, 2000);
      const after = (await metrics.render()).match(/status="aborted"\} (\d+)/)?.[1];
      expect(Number(after)).toBe(Number(before) + 1);
      // The pool still serves the next request.
      const next = await get(`${at.url}/export-csv?limit=10`);
      expect(next.status).toBe(200);
    });

    it.each([
      ['identity', {}],
      ['gzip', { 'Accept-Encoding': 'gzip' }],
    ])('cuts the transfer (%s; no clean end) when the database fails mid-stream, and logs the run metrics', async (_encoding, headers) => {
      records.length = 0;
      const res = await open(`${at.url}/export-csv`, headers);
      expect(res.statusCode).toBe(200);
      await once(res, 'data');
      // Listen before the failure: the server may cut the connection before the query returns.
      const replied = collect(res);
      res.pause();
      const killed = await adminQuery<{ pid: number }>("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice' AND datname = $1", [scratch.name]);
      expect(killed.length).toBeGreaterThan(0);
      res.resume();
      const reply = await replied;
      expect(reply.ending).toBe('aborted');
      expect(reply.body.toString('utf8')).not.toMatch(/error|SELECT/i);
      const logged = await eventually(
        async () => records.find((r) => r.level === 50 && String(r.msg).startsWith('export failed after the response started')),
        (r) => r !== undefined,
        2000,
      );
      const summary = logged.value!.summary as { status: string; rows: number; error: { code: string } };
      expect(summary.status).toBe('failed');
      expect(summary.error.code).toBe('CONNECTION_LOST');
      expect(summary.rows).toBeGreaterThan(0);
      expect(summary.rows).toBeLessThan(ROWS);
      expect(database.pool.totalCount - database.pool.idleCount).toBe(0);
      expect((await get(`${at.url}/export-csv?limit=10`)).status).toBe(200);
    });

    it('resets the connection of an HTTP/1.0 client (no framing: a close would look complete) when the database fails mid-stream', async () => {
      records.length = 0;
      // What the server does with the connection, seen from its side: the guarantee is its reset.
      const resets: string[] = [];
      const watch = (socket: Socket) => {
        const reset = socket.resetAndDestroy.bind(socket);
        socket.resetAndDestroy = () => (resets.push('reset'), reset());
        socket.on('error', (e: NodeJS.ErrnoException) => resets.push(`error ${e.syscall ?? ''} ${e.code ?? ''}`));
        const end = socket.end.bind(socket);
        socket.end = ((...args: Parameters<Socket['end']>) => (resets.push('end'), end(...args))) as Socket['end'];
      };
      at.server!.on('connection', watch);
      const { hostname, port } = new URL(at.url);
      const socket = connect(Number(port), hostname);
      socket.write('GET /export-csv HTTP/1.0\r\nHost: localhost\r\n\r\n');
      const ending = new Promise<{ error: string | undefined; bytes: number; head: string }>((resolve) => {
        const chunks: Buffer[] = [];
        let error: string | undefined;
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
        socket.on('close', () => {
          const all = Buffer.concat(chunks);
          resolve({ error, bytes: all.length, head: all.subarray(0, 200).toString('latin1') });
        });
      });
      await once(socket, 'data');
      // The socket keeps reading (a paused socket may lose the reset's error on Linux): the
      // server is still streaming well after the backend dies (the COPY of 200,000 rows takes
      // far longer than the kill).
      const killed = await adminQuery<{ pid: number }>("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice' AND datname = $1", [scratch.name]);
      expect(killed.length).toBeGreaterThan(0);
      const reply = await ending;
      at.server!.off('connection', watch);
      expect(reply.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(reply.head).not.toMatch(/transfer-encoding: chunked/i);
      const logged = records.map((r) => `${r.level} ${String(r.msg)}`);
      const seen = JSON.stringify({ ...reply, head: reply.head.slice(0, 120), logged, resets });
      // The server reset the connection, never ended it: that is the guarantee, checked on its
      // side. The client usually reads the reset as ECONNRESET; about once in twenty runs under
      // load it saw a plain end of stream instead (2026-11-30, before `resets` was recorded), which
      // should be the kernel reporting a reset to a reader that had not drained its queue: if a
      // failure here ever shows anything but one reset in `resets`, the server is at fault.
      expect(resets, seen).toEqual(['reset']);
      expect([undefined, 'ECONNRESET'], seen).toContain(reply.error);
      await eventually(async () => database.pool.totalCount - database.pool.idleCount, (n) => n === 0, 2000);
    });
  });
});
