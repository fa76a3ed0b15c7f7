import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the tests use: DATABASE_URL (if postgres), else PG* variables, else the local default. */
export function adminUrl(): string {
  const env = process.env.DATABASE_URL;
  if (env && /^postgres(ql)?:/.test(env)) return env;
  if (process.env.PGHOST || process.env.PGUSER || process.env.PGPORT || process.env.PGDATABASE) {
    const user = process.env.PGUSER ?? 'postgres';
    const host = process.env.PGHOST ?? '127.0.0.1';
    return `postgres://${user}@${host}:${process.env.PGPORT ?? 5432}/${process.env.PGDATABASE ?? 'test'}`;
  }
  return 'postgres://postgres@127.0.0.1:5432/test';
}

let reachable: Promise<boolean> | undefined;

/**
 * Whether PostgreSQL answers. Under CI=true an unreachable server is a failure, not a skip:
 * the tests must never pass green without having talked to it.
 */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      if (process.env.CI === 'true') throw new Error(`PostgreSQL is unreachable at ${adminUrl()} and CI=true: ${(error as Error).message}`);
      process.stderr.write(`\n*** PostgreSQL unreachable at ${adminUrl()}: PostgreSQL tests are SKIPPED (${(error as Error).message}) ***\n\n`);
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface ScratchDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** A fresh database of its own for one test file, so parallel runs never collide. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `sluice_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => void (await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

/** Backends connected to a database other than ours (pg_stat_activity), e.g. to prove none leaked. */
export async function openConnections(database: string): Promise<number> {
  const rows = await adminQuery<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  return Number(rows[0]!.n);
}

const stoppedBackends = new Map<number, () => void>();
process.on('exit', () => {
  for (const resume of stoppedBackends.values()) resume();
});

/**
 * Stops a backend (SIGSTOP) for at most `maxMs`, and returns what resumes it. Never longer: on
 * PostgreSQL 15 every DROP DATABASE waits for all backends, stopped ones included, so a backend
 * left stopped by a failing test would stall the clean-up of every other test file.
 */
export function stopBackend(pid: number, maxMs = 8000): () => void {
  process.kill(pid, 'SIGSTOP');
  const resume = () => {
    clearTimeout(timer);
    if (!stoppedBackends.delete(pid)) return;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Gone already.
    }
  };
  const timer = setTimeout(resume, maxMs);
  stoppedBackends.set(pid, resume);
  return resume;
}
