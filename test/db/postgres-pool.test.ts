import { Writable } from 'node:stream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Output } from '../../src/core/output.ts';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { sluice } from '../support/cli.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { seedTickets } from '../support/tickets.ts';

const pgOk = await postgresAvailable();

/** An output that keeps nothing; `stall` makes it stop taking bytes after the first chunk. */
function nullOutput(onFirst?: () => void): Output {
  return {
    description: 'null',
    open: () => {
      let first = true;
      return [
        new Writable({
          write(_chunk, _encoding, callback) {
            if (first && onFirst) {
              first = false;
              onFirst();
            }
            callback();
          },
        }),
      ];
    },
  };
}

describe.skipIf(!pgOk)('the PostgreSQL pool under many runs', () => {
  let small: ScratchDatabase;
  let big: ScratchDatabase;

  beforeAll(async () => {
    small = await createScratchDatabase();
    await seedTickets(small.url);
    big = await createScratchDatabase();
    const seeded = await sluice(['run', 'seed-tickets', '--db', big.url, '--count', '100000', '--log-level', 'warn']);
    expect(seeded.code, seeded.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await small?.drop();
    await big?.drop();
  });

  it('adds no listener to a pooled client per export: 300 exports, COPY and cursor, no MaxListenersExceededWarning', async () => {
    const db = openDatabase(small.url, { maxConnections: 2 }) as PostgresDatabase;
    const clients = new Set<pg.PoolClient>();
    db.pool.on('connect', (client) => clients.add(client as pg.PoolClient));
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    const pipeline = await bundledPipeline('export-csv');
    try {
      await runPipeline(pipeline, { database: db, output: nullOutput() });
      const baseline = Math.max(...[...clients].map((c) => c.listenerCount('error')));
      for (let i = 0; i < 300; i++) await runPipeline(pipeline, { database: db, output: nullOutput(), inDatabase: i % 2 === 0 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(clients.size).toBeLessThanOrEqual(2);
      for (const client of clients) expect(client.listenerCount('error')).toBeLessThanOrEqual(baseline);
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await db.close();
    }
  });

  it('cancels a burst of 20 aborted exports without opening a single connection beyond the pool', async () => {
    const max = 24;
    const db = openDatabase(big.url, { maxConnections: max }) as PostgresDatabase;
    const pipeline = await bundledPipeline('export-csv');
    let peak = 0;
    let sampling = true;
    // Sessions only: a query's parallel workers are processes of its session, not connections.
    const sample = async () => {
      const [row] = await adminQuery<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", [big.name]);
      peak = Math.max(peak, Number(row!.n));
    };
    const sampler = (async () => {
      while (sampling) {
        await sample();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      const controllers = Array.from({ length: 20 }, () => new AbortController());
      let started = 0;
      const allStarted = new Promise<void>((resolve) => {
        const onFirst = () => ++started === controllers.length && resolve();
        const runs = controllers.map((controller, i) =>
          runPipeline(pipeline, { database: db, output: nullOutput(onFirst), signal: controller.signal, params: { batchSize: 50 }, inDatabase: i % 2 === 0 }).catch((e: unknown) => e),
        );
        void Promise.all(runs);
      });
      await allStarted;
      // Every run is streaming now: one sample here sees them all, however busy the machine (the sampler may miss the moment).
      await sample();
      for (const controller of controllers) controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(db.pool.totalCount - db.pool.idleCount).toBe(0);
      const busy = await adminQuery<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()", [big.name]);
      expect(Number(busy[0]!.n)).toBe(0);
    } finally {
      sampling = false;
      await sampler;
      await db.close();
    }
    expect(peak).toBeLessThanOrEqual(max);
    expect(peak).toBeGreaterThanOrEqual(20);
  });
});
