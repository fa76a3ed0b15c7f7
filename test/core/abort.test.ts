import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, openConnections, postgresAvailable } from '../support/postgres.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';

const ROWS = 200_000;
const dir = scratchDir();
const sqliteUrl = `sqlite:${dir.file('big.db')}`;
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase | undefined;

async function seed(url: string): Promise<void> {
  const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', url, '--count', String(ROWS), '--reset', '--log-level', 'warn']);
  if (code !== 0) throw new Error(stderr);
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

beforeAll(async () => {
  await seed(sqliteUrl);
  if (pgOk) {
    scratch = await createScratchDatabase();
    await seed(scratch.url);
  }
});

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

const partFiles = () => readdirSync(dir.path).filter((f) => f.endsWith('.part'));

describe('aborting a run', () => {
  it('on SQLite: rejects with ABORTED, removes the part file and keeps the previous file', async () => {
    const target = dir.file('sqlite-abort.csv');
    writeFileSync(target, 'previous\n');
    const controller = new AbortController();
    const run = runPipeline(await bundledPipeline('export-csv'), { database: sqliteUrl, output: fileOutput(target), signal: controller.signal, params: { batchSize: 100 } });
    await waitFor(() => partFilesOf(target).length > 0, 5000);
    setTimeout(() => controller.abort(), 50);
    await expect(run).rejects.toMatchObject({ code: 'ABORTED', exitCode: 130 });
    expect(partFiles()).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('previous\n');
  });

  it.skipIf(!pgOk)('on PostgreSQL: cancels the query and releases the connection within a second', async () => {
    const db = openDatabase(scratch!.url) as PostgresDatabase;
    try {
      const target = dir.file('pg-abort.csv');
      const controller = new AbortController();
      let started = false;
      const run = runPipeline(await bundledPipeline('export-csv'), {
        database: db,
        output: fileOutput(target),
        signal: controller.signal,
        params: { batchSize: 200 },
        onStart: () => (started = true),
      });
      await waitFor(() => started && partFilesOf(target).length > 0, 5000);
      await new Promise((r) => setTimeout(r, 100));
      expect(await openConnections(scratch!.name)).toBeGreaterThan(0);
      controller.abort();
      await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
      expect(partFiles()).toEqual([]);
      expect(existsSync(target)).toBe(false);
      // The cursor's client is discarded, not returned half-read: the pool holds nothing checked out.
      expect(db.pool.totalCount - db.pool.idleCount).toBe(0);
      expect(await waitFor(async () => (await openConnections(scratch!.name)) === db.pool.idleCount, 1000)).toBe(true);
    } finally {
      await db.close();
    }
    expect(await waitFor(async () => (await openConnections(scratch!.name)) === 0, 1000)).toBe(true);
  });

  it('from the CLI: SIGINT exits 130 and leaves no part file', async () => {
    const target = dir.file('cli-sigint.tsv');
    const result = await sluice(['run', 'export-all-tickets', '--db', sqliteUrl, '--out', target, '--batch-size', '100'], {
      onSpawn: (child) => {
        void waitFor(() => partFilesOf(target).length > 0, 10_000).then(() => setTimeout(() => child.kill('SIGINT'), 50));
      },
    });
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/aborted/i);
    expect(partFiles()).toEqual([]);
    expect(existsSync(target)).toBe(false);
  });

  it.skipIf(!pgOk)('from the CLI: SIGTERM on a PostgreSQL export leaves no backend behind', async () => {
    const target = dir.file('cli-sigterm.csv');
    const result = await sluice(['run', 'export-csv', '--db', scratch!.url, '--out', target, '--batch-size', '100'], {
      onSpawn: (child) => {
        void waitFor(() => partFilesOf(target).length > 0, 10_000).then(() => setTimeout(() => child.kill('SIGTERM'), 50));
      },
    });
    expect(result.code).toBe(130);
    expect(partFiles()).toEqual([]);
    expect(await waitFor(async () => (await openConnections(scratch!.name)) === 0, 1000)).toBe(true);
  });

  it.skipIf(!pgOk)('a backend killed mid-export fails the run (no hang) and keeps no partial file', async () => {
    const db = openDatabase(scratch!.url) as PostgresDatabase;
    try {
      const target = dir.file('pg-killed.csv');
      const run = runPipeline(await bundledPipeline('export-csv'), { database: db, output: fileOutput(target), params: { batchSize: 100 } });
      const outcome = run.catch((error: unknown) => error);
      await waitFor(() => partFilesOf(target).length > 0, 5000);
      const { adminQuery } = await import('../support/postgres.ts');
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sluice'", [scratch!.name]);
      expect(await outcome).toMatchObject({ code: 'CONNECTION_LOST' });
      expect(partFiles()).toEqual([]);
      expect(existsSync(target)).toBe(false);
    } finally {
      await db.close();
    }
  });
});
