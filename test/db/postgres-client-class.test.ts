import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable, stopBackend } from '../support/postgres.ts';

const pgOk = await postgresAvailable();

describe.skipIf(!pgOk)('connections to a backend that stops answering (SIGSTOP)', () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  /** A pooled client held out of the pool, and its backend's pid. */
  async function heldClient(database: PostgresDatabase) {
    const client = await database.pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { client, pid: rows[0]!.pid };
  }

  it('fails a plain statement after the statement timeout and a short grace, with TIMEOUT and what to do', async () => {
    const database = openDatabase(scratch.url, { statementTimeoutMs: 300 }) as PostgresDatabase;
    const { client, pid } = await heldClient(database);
    client.release();
    const resume = stopBackend(pid, 12_000);
    try {
      const startedAt = Date.now();
      const error = await database.query({ text: 'SELECT 1', values: [] }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(error?.code).toBe('TIMEOUT');
      expect(error?.message).toMatch(/did not answer a statement within the statement timeout \(--statement-timeout\); the server or the network is stalled/);
      expect(Date.now() - startedAt).toBeLessThan(8000);
    } finally {
      resume();
      await database.close();
    }
  }, 20_000);

  /** Open sockets to the server in this process: each keeps the process alive. */
  function serverSockets(): number {
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    return handles.filter((h) => (h as { remotePort?: number }).remotePort === Number(new URL(scratch.url).port || 5432)).length;
  }

  it('closes a discarded connection within a second although its server never closes its side', async () => {
    const database = openDatabase(scratch.url) as PostgresDatabase;
    const { client, pid } = await heldClient(database);
    const resume = stopBackend(pid, 12_000);
    try {
      const before = serverSockets();
      client.release(true);
      await database.close();
      // Half-closed (Terminate sent, the server's side still open), the socket would stay until the backend resumes.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(serverSockets()).toBe(before - 1);
    } finally {
      resume();
    }
  }, 20_000);
});
