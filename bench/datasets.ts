import { NODE_FLAGS } from '../bin/node-flags.mjs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ticketsTableDdl } from '../raffle/tickets.ts';
import { demoTicket } from '../raffle/demo-tickets.ts';
import { adminUrl } from '../test/support/postgres.ts';

export type Engine = 'sqlite' | 'pg';

/** A seeded tickets table: `legacy` ones have 6-7 digit barcodes, for the 8-digit migration. */
export interface DatasetKey {
  readonly engine: Engine;
  readonly rows: number;
  readonly legacy: boolean;
}

export const DATA_DIR = 'bench/.data';

export function datasetId(key: DatasetKey): string {
  return `${key.engine}:${key.rows}${key.legacy ? ':legacy' : ''}`;
}


/**
 * Data sets are named after what they hold: the table definition on both engines and sample
 * generated tickets. A change to either seeds new ones instead of measuring stale data; a
 * change to a comment does not.
 */
async function fingerprint(): Promise<string> {
  const hash = createHash('sha256').update(ticketsTableDdl('sqlite')).update(ticketsTableDdl('postgres'));
  for (const id of [1, 2, 3, 999, 1000, 1001, 123_456, 1_000_000, 9_000_000]) hash.update(JSON.stringify([demoTicket(id, false), demoTicket(id, true)]));
  return hash.digest('hex').slice(0, 8);
}

const FINGERPRINT = await fingerprint();

function baseName(rows: number, legacy: boolean): string {
  return `tickets${legacy ? '-legacy' : ''}-${rows}`;
}

export function sqlitePath(rows: number, legacy: boolean): string {
  return join(DATA_DIR, `${baseName(rows, legacy)}-${FINGERPRINT}.db`);
}

export function pgName(rows: number, legacy: boolean): string {
  return `sluice_bench${legacy ? '_legacy' : ''}_${rows}_${FINGERPRINT}`;
}

/** Data sets of the same size seeded from older definitions. */
function staleSqlite(key: DatasetKey): string[] {
  const pattern = new RegExp(`^${baseName(key.rows, key.legacy)}-(?!${FINGERPRINT})[0-9a-f]{8}\\.db(-wal|-shm)?$`);
  return existsSync(DATA_DIR) ? readdirSync(DATA_DIR).filter((f) => pattern.test(f)).map((f) => join(DATA_DIR, f)) : [];
}

async function dropStalePostgres(key: DatasetKey): Promise<void> {
  const pattern = new RegExp(`^sluice_bench${key.legacy ? '_legacy' : ''}_${key.rows}_(?!${FINGERPRINT})[0-9a-f]{8}$`);
  await withAdmin(undefined, async (c) => {
    const names = (await c.query<{ datname: string }>('SELECT datname FROM pg_database')).rows.map((r) => r.datname);
    for (const name of names.filter((n) => pattern.test(n))) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

export function pgUrl(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

export function seedCommand(url: string, rows: number, legacy: boolean): string[] {
  const argv = ['node', ...NODE_FLAGS, 'bin/sluice.mjs', 'run', 'seed-tickets', '--db', url, '--count', String(rows), '--reset', '--log-level', 'warn'];
  return legacy ? [...argv, '--legacy-barcodes'] : argv;
}

function seed(url: string, rows: number, legacy: boolean): void {
  const [cmd, ...args] = seedCommand(url, rows, legacy);
  const result = spawnSync(cmd!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`Seeding ${url} with ${rows} tickets failed (exit ${result.status}).`);
}

/** Runs fn on a connection to the named database (the admin database when undefined). */
export async function withAdmin<T>(database: string | undefined, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(database ? pgUrl(database) : adminUrl(), fn);
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PostgreSQL server version, or undefined when it does not answer. */
export async function postgresVersion(): Promise<string | undefined> {
  try {
    return await withAdmin(undefined, async (c) => String((await c.query('SHOW server_version')).rows[0].server_version));
  } catch {
    return undefined;
  }
}

/** A cached data set counts only if it holds exactly ids 1..rows, with legacy barcodes where asked. */
function complete(count: number, maxId: number, short: number, key: DatasetKey): boolean {
  return count === key.rows && maxId === key.rows && (!key.legacy || short === key.rows);
}

const CHECK_SQL = 'SELECT count(*) AS n, coalesce(max(id), 0) AS max_id, sum(CASE WHEN length(barcode) < 8 THEN 1 ELSE 0 END) AS short FROM tickets';

function sqliteComplete(path: string, key: DatasetKey): boolean {
  if (!existsSync(path)) return false;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare(CHECK_SQL).get() as { n: number; max_id: number; short: number | null };
      return complete(row.n, row.max_id, row.short ?? 0, key);
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}

/** Seeds under a temporary name and renames, so an interrupted seed is never taken for a cached data set. */
function ensureSqlite(key: DatasetKey): string {
  const path = sqlitePath(key.rows, key.legacy);
  if (sqliteComplete(path, key)) return path;
  mkdirSync(DATA_DIR, { recursive: true });
  const part = `${path}.${process.pid}.part`;
  process.stderr.write(`bench: seeding ${path} with ${key.rows.toLocaleString('en-US')} tickets...\n`);
  try {
    seed(`sqlite:${part}`, key.rows, key.legacy);
    renameSync(part, path);
    for (const stale of staleSqlite(key)) rmSync(stale, { force: true });
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(part + suffix, { force: true });
  }
  return path;
}

async function pgComplete(name: string, key: DatasetKey): Promise<boolean> {
  const exists = await withAdmin(undefined, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
  if (!exists) return false;
  try {
    return await withAdmin(name, async (c) => {
      const row = (await c.query(CHECK_SQL)).rows[0];
      return complete(Number(row.n), Number(row.max_id), Number(row.short ?? 0), key);
    });
  } catch {
    return false;
  }
}

/**
 * Seeds a database of a temporary name, vacuums it (so no measured run pays for hint bits or
 * stale statistics) and renames it into place.
 */
async function ensurePostgres(key: DatasetKey): Promise<string> {
  const name = pgName(key.rows, key.legacy);
  if (await pgComplete(name, key)) return name;
  const part = `${name}_part_${process.pid}`;
  process.stderr.write(`bench: seeding PostgreSQL database ${name} with ${key.rows.toLocaleString('en-US')} tickets...\n`);
  await withAdmin(undefined, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${part} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${part}`);
  });
  try {
    seed(pgUrl(part), key.rows, key.legacy);
    await withAdmin(part, (c) => c.query('VACUUM (ANALYZE) tickets'));
    await withAdmin(undefined, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`ALTER DATABASE ${part} RENAME TO ${name}`);
    });
    await dropStalePostgres(key);
  } finally {
    await withAdmin(undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${part} WITH (FORCE)`));
  }
  return name;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Scratch and half-seeded databases left by a harness that was killed (their process is gone). */
export async function dropOrphans(): Promise<void> {
  await withAdmin(undefined, async (c) => {
    const names = (await c.query<{ datname: string }>('SELECT datname FROM pg_database')).rows.map((r) => r.datname);
    for (const name of names) {
      const pid = /^sluice_bench_\w*?(?:scratch|part)_(\d+)$/.exec(name)?.[1];
      if (pid && !alive(Number(pid))) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
}

/** Makes sure the data set exists (seeding it if needed) and returns its database URL. */
export async function ensureDataset(key: DatasetKey): Promise<string> {
  return key.engine === 'sqlite' ? `sqlite:${ensureSqlite(key)}` : pgUrl(await ensurePostgres(key));
}

/**
 * A fresh, writable copy of `source` (a SQLite file or a PostgreSQL database used as a template)
 * at `scratch`; returns its URL. The copy is flushed to disk first, so the measured run does not
 * pay for writing it back.
 */
async function freshCopy(engine: Engine, source: string, scratch: string): Promise<string> {
  if (engine === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(scratch + suffix, { force: true });
    copyFileSync(source, scratch);
    const fd = openSync(scratch, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    return `sqlite:${scratch}`;
  }
  await withAdmin(undefined, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${scratch} TEMPLATE ${source} STRATEGY FILE_COPY`);
    await c.query('CHECKPOINT');
  });
  return pgUrl(scratch);
}

/** A fresh copy of a legacy data set for one migration run. */
export function freshLegacyCopy(engine: Engine, rows: number, scratch: string): Promise<string> {
  return freshCopy(engine, engine === 'sqlite' ? sqlitePath(rows, true) : pgName(rows, true), scratch);
}

export async function dropScratch(engine: Engine, scratch: string): Promise<void> {
  if (engine === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(scratch + suffix, { force: true });
    return;
  }
  await withAdmin(undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`));
}

/** `SELECT count(*) AS n ...` on either engine. */
async function count(engine: Engine, url: string, sql: string): Promise<number> {
  if (engine === 'pg') return withClient(url, async (c) => Number((await c.query(sql)).rows[0].n));
  const db = new Database(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Numeric barcodes still shorter than 8 digits: after a migration there must be none. */
export function shortBarcodes(engine: Engine, url: string): Promise<number> {
  return count(engine, url, 'SELECT count(*) AS n FROM tickets WHERE length(barcode) < 8');
}

/** The CSV that the import cases read: the data set as `sluice run export-csv` writes it, made once per size. */
export function importFilePath(rows: number): string {
  return join(DATA_DIR, `${baseName(rows, false)}-${FINGERPRINT}.csv`);
}

export function exportCommand(url: string, out: string): string[] {
  return ['node', ...NODE_FLAGS, 'bin/sluice.mjs', 'run', 'export-csv', '--db', url, '--out', out, '--log-level', 'warn'];
}

/** Writes the import file from the SQLite data set unless it is already there (renamed into place whole). */
export function ensureImportFile(rows: number): string {
  const path = importFilePath(rows);
  if (existsSync(path)) return path;
  const part = `${path}.${process.pid}.part.csv`;
  process.stderr.write(`bench: exporting ${path} for the import cases...\n`);
  const [cmd, ...args] = exportCommand(`sqlite:${ensureSqlite({ engine: 'sqlite', rows, legacy: false })}`, part);
  const result = spawnSync(cmd!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`Exporting the import file ${path} failed (exit ${result.status}).`);
  renameSync(part, path);
  return path;
}

function dbInit(url: string): void {
  const result = spawnSync('node', [...NODE_FLAGS, 'bin/sluice.mjs', 'db', 'init', '--db', url], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`sluice db init --db ${url} failed (exit ${result.status}).`);
}

/**
 * An empty tickets table (the app's schema, indexes included) for the import cases to copy:
 * a SQLite file in `dir`, or a PostgreSQL template database of this process.
 */
export async function emptyTemplate(engine: Engine, dir: string): Promise<string> {
  if (engine === 'sqlite') {
    const path = join(dir, 'empty.db');
    if (!existsSync(path)) dbInit(`sqlite:${path}`);
    return path;
  }
  const name = `sluice_bench_empty_scratch_${process.pid}`;
  const exists = await withAdmin(undefined, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
  if (!exists) {
    await withAdmin(undefined, (c) => c.query(`CREATE DATABASE ${name}`));
    dbInit(pgUrl(name));
  }
  return name;
}

/** A fresh copy of an empty template (see emptyTemplate) for one import run; returns its URL. */
export function freshEmptyCopy(engine: Engine, template: string, scratch: string): Promise<string> {
  return freshCopy(engine, template, scratch);
}

/** Tickets in a table: an import must have written every row. */
export function ticketCount(engine: Engine, url: string): Promise<number> {
  return count(engine, url, 'SELECT count(*) AS n FROM tickets');
}
