import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { createSluiceServer } from '../../src/http/server.ts';
import { sluice } from '../support/cli.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable, stopBackend } from '../support/postgres.ts';
import { raffleServer } from '../support/app.ts';
import { close, collect, eventually, get, json, listen, memoryLogger, open } from './client.ts';

const pgOk = await postgresAvailable();
const TOKEN = 'stall-test-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}`, 'Accept-Encoding': 'identity' };

/** Backends of the database running a statement or holding a transaction. */
async function busyBackends(name: string): Promise<number> {
  const [row] = await adminQuery<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid()",
    [name],
  );
  return Number(row!.n);
}

/** Backends of the database now, by pid. */
async function backendPids(name: string): Promise<Set<number>> {
  const rows = await adminQuery<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]);
  return new Set(rows.map((r) => r.pid));
}

/**
 * The backend that started streaming an export after `before` was taken: ours, not one another
 * test left, and the one running the COPY, not the run history's connection (stopping that one
 * lets the export finish).
 */
async function exportBackend(name: string, before: ReadonlySet<number>): Promise<number> {
  const { value } = await eventually(
    async () =>
      (
        await adminQuery<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sluice' AND state = 'active' AND backend_type = 'client backend' AND query LIKE 'COPY (%'",
          [name],
        )
      ).filter(
        (row) => !before.has(row.pid),
      ),
    (rows) => rows.length === 1,
    5000,
  );
  expect(value).toHaveLength(1);
  return value[0]!.pid;
}

/** Reads about `bytes` of a download, then stops reading with the socket left open. */
async function readThenStall(url: string, bytes: number): Promise<IncomingMessage> {
  const res = await open(url, auth);
  expect(res.statusCode).toBe(200);
  let seen = 0;
  await new Promise<void>((resolve) => {
    res.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= bytes) {
        res.pause();
        resolve();
      }
    });
  });
  return res;
}

describe.skipIf(!pgOk)('stalls and timeouts', () => {
  let scratch: ScratchDatabase;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    const seeded = await sluice(['run', 'seed-tickets', '--db', scratch.url, '--count', '200000', '--log-level', 'warn']);
    expect(seeded.code, seeded.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await scratch?.drop();
  });

  it('gives up on clients that stop reading: their runs abort, slots and connections are freed, new exports get through', async () => {
    const database = openDatabase(scratch.url, { maxConnections: 8 }) as PostgresDatabase;
    const { logger, records } = memoryLogger();
    const { server, limiter } = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN, maxConcurrent: 4, sendTimeoutMs: 1500, logger });
    const base = await listen(server);
    const stalled: IncomingMessage[] = [];
    try {
      // All four at once: one after the other, the first could time out before the last has stalled.
      stalled.push(...(await Promise.all([1, 2, 3, 4].map(() => readThenStall(`${base}/api/admin/tickets/export-csv`, 1 << 20)))));
      expect(limiter.active).toBe(4);
      expect((await get(`${base}/api/admin/tickets/export-csv`, auth)).status).toBe(503);
      const freed = await eventually(async () => ({ active: limiter.active, busy: await busyBackends(scratch.name) }), (v) => v.active === 0 && v.busy === 0, 6000);
      expect(freed.value).toEqual({ active: 0, busy: 0 });
      expect(records.filter((r) => /took no data for 2 s/.test(String(r.msg))).length).toBe(4);
      const next = await get(`${base}/api/admin/tickets/export-csv?limit=100`, auth);
      expect(next.status).toBe(200);
      expect(next.ending).toBe('end');
    } finally {
      for (const res of stalled) res.destroy();
      await close(server);
      await database.close();
    }
  });

  it('fails a download whose backend stops answering (SIGSTOP) within the stall timeout, and frees the slot', async () => {
    const database = openDatabase(scratch.url, { stallTimeoutMs: 1500 }) as PostgresDatabase;
    const { server, limiter } = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN, sendTimeoutMs: 0 });
    const base = await listen(server);
    let resume = () => {};
    try {
      const before = await backendPids(scratch.name);
      const res = await open(`${base}/api/admin/tickets/export-csv`, auth);
      // Not read until the backend is stopped: the export cannot finish first.
      res.pause();
      resume = stopBackend(await exportBackend(scratch.name, before), 15_000);
      const stoppedAt = Date.now();
      const collected = collect(res);
      res.resume(); // explicitly paused above: a 'data' listener alone would not restart it
      const outcome = await collected;
      expect(outcome.ending).toBe('aborted');
      expect(Date.now() - stoppedAt).toBeLessThan(6000);
      expect((await eventually(async () => limiter.active, (n) => n === 0, 3000)).ok).toBe(true);
    } finally {
      resume();
      await close(server);
      await database.close();
    }
  });

  it('fails a CLI export whose backend stops answering (SIGSTOP): exit 1 with TIMEOUT', async () => {
    const { spawnSync } = await import('node:child_process');
    const { createReadStream } = await import('node:fs');
    const { scratchDir } = await import('../support/sqlite.ts');
    const dir = scratchDir();
    let resume = () => {};
    try {
      // The export writes into a FIFO read only once the backend is stopped, so the COPY cannot
      // finish first, however fast this machine is.
      const fifo = dir.file('out.csv');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      let stoppedAt = 0;
      const before = await backendPids(scratch.name);
      const result = await sluice(['run', 'export-csv', '--db', scratch.url, '--out', fifo, '--stall-timeout', '2'], {
        killAfterMs: 30_000,
        onSpawn: () => {
          void exportBackend(scratch.name, before)
            .then((pid) => {
              resume = stopBackend(pid, 20_000);
              stoppedAt = Date.now();
            })
            // Read in any case: a run blocked on the FIFO would otherwise never end.
            .finally(() => createReadStream(fifo).resume());
        },
      });
      // It exited by itself: the stopped backend's half-closed socket did not keep it alive.
      expect(result.signal).toBeNull();
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/sent nothing for 2 s while a query was running; the server or the network is stalled \(--stall-timeout\)/);
      expect(stoppedAt).toBeGreaterThan(0);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    } finally {
      resume();
      dir.remove();
    }
  });

  it('gives up on a statement blocked longer than --statement-timeout (a pre-flight waiting on a lock)', async () => {
    const { default: pg } = await import('pg');
    const locker = new pg.Client({ connectionString: scratch.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE');
      const startedAt = Date.now();
      const result = await sluice(['run', 'migrate-8digit-barcodes', '--db', scratch.url, '--dry-run', '--statement-timeout', '1', '--log-level', 'warn']);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(/ran longer than the statement timeout \(--statement-timeout\) and was cancelled\.$/);
      expect(Date.now() - startedAt).toBeLessThan(8000);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('gives up connecting to a server that accepts and never answers after --connect-timeout', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as { port: number }).port;
    try {
      const startedAt = Date.now();
      const result = await sluice(['run', 'export-csv', '--db', `postgres://postgres@127.0.0.1:${port}/x`, '--out', '-', '--connect-timeout', '1']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/no answer within the connect timeout \(--connect-timeout\)/);
      expect(Date.now() - startedAt).toBeLessThan(5000);
    } finally {
      silent.close();
    }
  });

  it('turns on TCP keepalive, a statement timeout and an idle-in-transaction timeout on its connections', async () => {
    const database = openDatabase(scratch.url, { stallTimeoutMs: 7000, statementTimeoutMs: 9000 }) as PostgresDatabase;
    try {
      const [row] = await database.query({ text: "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')", values: [] });
      expect(row).toEqual(['9s', '7s']);
      expect((database.pool as unknown as { options: { keepAlive: boolean } }).options.keepAlive).toBe(true);
    } finally {
      await database.close();
    }
  });
});

describe.skipIf(!pgOk)('readiness', () => {
  it('/readyz answers 200 with the export slots when the database answers, 503 when it does not; /healthz stays 200', async () => {
    const scratch = await createScratchDatabase();
    const up = openDatabase(scratch.url);
    const down = openDatabase('postgres://postgres@127.0.0.1:1/nowhere', { connectTimeoutMs: 500 });
    const ok = createSluiceServer({ ...(await raffleServer()), database: up, token: TOKEN, maxConcurrent: 3 });
    const ko = createSluiceServer({ ...(await raffleServer()), database: down, token: TOKEN });
    const okBase = await listen(ok.server);
    const koBase = await listen(ko.server);
    try {
      const ready = await get(`${okBase}/readyz`);
      expect(ready.status).toBe(200);
      expect(json(ready)).toEqual({ status: 'ready', database: 'ok', exports: { active: 0, max: 3 } });
      const unready = await get(`${koBase}/readyz`);
      expect(unready.status).toBe(503);
      expect(json(unready)).toEqual({ status: 'unavailable', database: 'unreachable', exports: { active: 0, max: 4 } });
      expect((await get(`${koBase}/healthz`)).status).toBe(200);
    } finally {
      await close(ok.server);
      await close(ko.server);
      await up.close();
      await down.close();
      await scratch.drop();
    }
  });
});
