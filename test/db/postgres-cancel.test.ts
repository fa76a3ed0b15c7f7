import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { eventually } from '../http/client.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';

const pgOk = await postgresAvailable();

/** Far longer than the test may take: a statement still running after the destroy was not cancelled. */
const SLEEP_SECONDS = 30;

interface Sleeper {
  readonly pid: number;
  readonly state: string | null;
}

/** The scratch database's backends from the pool that are running a pg_sleep statement (optionally one tagged with `tag`). */
async function sleepers(database: string, tag = ''): Promise<Sleeper[]> {
  return adminQuery<Sleeper>(
    "SELECT pid, state FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sluice' AND state = 'active' AND query LIKE '%pg\\_sleep%' AND strpos(query, $2) > 0 AND pid <> pg_backend_pid()",
    [database, tag],
  );
}

/** A statement that returns nothing for SLEEP_SECONDS; the tag (a comment) tells the cases' backends apart. */
function sleepSql(tag: string): string {
  return `SELECT /* ${tag} */ g, pg_sleep(${SLEEP_SECONDS}) FROM generate_series(1, 3) AS g`;
}

describe.skipIf(!pgOk)('destroying a PostgreSQL stream while its statement runs', () => {
  let scratch: ScratchDatabase;
  let db: PostgresDatabase;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    db = openDatabase(scratch.url) as PostgresDatabase;
  });

  afterAll(async () => {
    await db?.close();
    // WITH (FORCE): a statement left running by a failed test does not hold the drop for 30 s.
    await scratch?.drop();
  });

  it.each<[string, string, () => Readable]>([
    ['streamBatches (cursor)', 'cursor-case', () => db.streamBatches({ text: sleepSql('cursor-case'), values: [] }, { batchSize: 100 })],
    ['copyOut (COPY TO STDOUT)', 'copy-case', () => db.copyOut({ text: `COPY (${sleepSql('copy-case')}) TO STDOUT`, settings: [] })],
  ])('%s: cancels the statement on the server, not only the client side', async (_name, tag, make) => {
    const stream = make();
    const errors: Error[] = [];
    stream.on('error', (error: Error) => errors.push(error));
    const data: unknown[] = [];
    stream.on('data', (chunk: unknown) => data.push(chunk));

    // The statement is really running on the server before the stream goes away.
    const running = await eventually(() => sleepers(scratch.name, tag), (rows) => rows.length === 1, 5000);
    expect(running.ok, 'the pg_sleep statement never showed as active').toBe(true);
    const [{ pid }] = running.value as [Sleeper];

    const destroyedAt = performance.now();
    stream.destroy();
    await once(stream, 'close');
    const closeMs = performance.now() - destroyedAt;

    // Closing the client's socket alone would leave the backend sleeping for the full 30 s:
    // only pg_cancel_backend stops the statement itself.
    const stopped = await eventually(
      () => adminQuery<{ state: string | null }>("SELECT state FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]),
      (rows) => rows.length === 0,
      2000,
    );
    expect(stopped.value, `backend ${pid} still runs pg_sleep ${Math.round(stopped.elapsedMs)} ms after the stream closed`).toEqual([]);
    expect(stopped.ok).toBe(true);
    expect(await sleepers(scratch.name, tag)).toEqual([]);
    expect(closeMs).toBeLessThan(5000);
    expect(data).toEqual([]);
    expect(errors).toEqual([]);
    // The cancelled client was discarded, not returned to the pool.
    expect(db.pool.totalCount - db.pool.idleCount).toBe(0);
    // And the pool still serves the next query.
    expect(await db.query({ text: 'SELECT 1 AS one', values: [] })).toEqual([[1]]);
  });
});
