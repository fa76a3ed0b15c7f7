import type BetterSqlite3 from 'better-sqlite3';
import { loadSqlite } from './sqlite-module.ts';
import { SluiceError } from '../core/errors.ts';
import type { ParamValues } from '../core/params.ts';
import type { SqlEncoding } from '../core/types.ts';
import type { SqlQuery } from '../core/database.ts';
import { describeRanges, planKeyRanges } from './key-ranges.ts';
import { type EncodedParts, type PartsRequest, destroyParts, partEvent } from './parallel-parts.ts';
import { type SelectSpec, buildPagedSelect, buildSelect, rangeSource } from './select.ts';
import type { SqliteDatabase } from './sqlite.ts';
import { SqliteEncodedReader } from './sqlite-encoded-reader.ts';

/** How long the coordinator waits for a writer's transaction to end before giving up the parallel read. */
const LOCK_WAIT_MS = 5000;
/** How long the reader threads may take to start and open their connections. */
const OPEN_WAIT_MS = 30_000;
/** How long the write lock may be held while the readers begin: a worker that does not answer must not block writers for good. */
const BEGIN_WAIT_MS = 10_000;

/** `promise`, or a failure after `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new SluiceError('TIMEOUT', message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Holds the write lock on a connection of its own while `during` runs: no commit can fall
 * between the readers' snapshots, so in WAL mode they all see the same one. Returns the
 * reason when the lock cannot be had (a read-only file, a writer holding it too long).
 */
async function underWriteLock(path: string, during: () => Promise<void>): Promise<string | undefined> {
  let coordinator: BetterSqlite3.Database | undefined;
  try {
    coordinator = new (loadSqlite())(path, { fileMustExist: true });
    coordinator.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
    coordinator.exec('BEGIN IMMEDIATE');
  } catch (error) {
    coordinator?.close();
    return `the write lock that lines up the readers' snapshots could not be taken (${(error as Error).message})`;
  }
  try {
    await during();
  } finally {
    try {
      coordinator.exec('ROLLBACK');
    } finally {
      coordinator.close();
    }
  }
  return undefined;
}

/** Only the first part writes the header; a sheet's later parts learn their first row once the parts before them are counted. */
function partEncoding(encoding: SqlEncoding, i: number): SqlEncoding {
  if (encoding.format === 'xlsx-sheet') return i === 0 ? encoding : { ...encoding, firstRow: undefined };
  return i === 0 ? encoding : { ...encoding, header: false };
}

/** The whole export's first batch (a parallel export has no row limit of its own: sqliteParts refuses one). */
function firstBatch(spec: SelectSpec, params: ParamValues, batchSize: number): SqlQuery {
  const query = buildSelect('sqlite', spec, params);
  return { text: `${query.text} LIMIT ${batchSize}`, values: query.values };
}

/**
 * A sheet's rows are numbered, and split into sheets, by their place in the whole export: each
 * part but the last counts its range in the snapshot, and each later part starts after the
 * ones before it.
 */
function sheetPlacer(parts: readonly SqliteEncodedReader[]): () => Promise<void> {
  // Listening before the parts begin: a count can arrive in the same turn as the 'begun' before it.
  const counted = Promise.all(parts.slice(0, -1).map((part) => partEvent<number>(part, 'counted')));
  counted.catch(() => undefined); // a part's failure is the run's, reported where the counts are awaited
  // No time limit: a count takes as long as a scan of its range, as the read itself will.
  return async () => placeAfter(parts, await counted);
}

function placeAfter(parts: readonly SqliteEncodedReader[], counts: readonly number[]): void {
  let before = 0;
  for (const [i, part] of parts.entries()) {
    if (i > 0) part.startAfter(before);
    before += counts[i] ?? 0;
  }
}

/**
 * One worker thread per key range, each reading and encoding its range on its own connection.
 * Only WAL gives concurrent readers and a writer one consistent picture; in rollback-journal
 * mode the export stays on one reader. The plan is made before the lock (a full scan of the key
 * must not hold writers back): it only balances the parts, while the ranges cover every key
 * whatever commits in between. A limit, though, must be cut in the readers' snapshot: one reader.
 */
export async function sqliteParts(db: SqliteDatabase, spec: SelectSpec, params: ParamValues, encoding: SqlEncoding, request: PartsRequest): Promise<EncodedParts> {
  const { parallel: wanted, batchSize } = request;
  const [mode] = await db.query({ text: 'PRAGMA journal_mode', values: [] });
  const journal = String(mode?.[0]);
  if (journal !== 'wal') return { readers: 1, reason: `the database is in ${journal} journal mode, where connections cannot share one snapshot (WAL can)` };
  const source = rangeSource('sqlite', spec, params);
  if (source.limit !== undefined) return { readers: 1, reason: 'a row limit must be cut in the same snapshot the rows are read in' };
  const plan = await planKeyRanges((q) => db.query(q), 'sqlite', source, wanted);
  if (plan.ranges.length < 2) return { readers: 1, reason: `${plan.rows} row(s) make a single range` };
  const sheets = encoding.format === 'xlsx-sheet';
  const parts = plan.ranges.map((range, i) => {
    const part = new SqliteEncodedReader({
      path: db.path,
      label: db.label,
      query: buildSelect('sqlite', spec, params, { range }),
      // Pages need `key > last` to skip exactly the rows read: a key with duplicates keeps the row path.
      ...(request.uniqueKey ? { pages: buildPagedSelect(spec, params, { range }) } : {}),
      columns: spec.columns,
      encoding: partEncoding(encoding, i),
      batchSize,
      snapshot: true,
      ...(sheets ? { count: i < plan.ranges.length - 1, ...(i === 0 ? { sample: firstBatch(spec, params, batchSize) } : {}) } : {}),
    });
    // Errors are the assembly's to report (it checks `errored` as it starts); none may go unheard before.
    part.on('error', () => undefined);
    return part;
  });
  try {
    await within(Promise.all(parts.map((part) => partEvent(part, 'opened'))), OPEN_WAIT_MS, `The SQLite reader threads did not open ${db.label} within ${OPEN_WAIT_MS / 1000} s.`);
    const placeSheets = sheets ? sheetPlacer(parts) : undefined;
    const refused = await underWriteLock(db.path, async () => {
      const begun = parts.map((part) => partEvent(part, 'begun'));
      for (const part of parts) part.beginSnapshot();
      await within(Promise.all(begun), BEGIN_WAIT_MS, `The SQLite reader threads did not begin their reads within ${BEGIN_WAIT_MS / 1000} s.`);
    });
    if (refused) {
      await destroyParts(parts);
      return { readers: 1, reason: refused };
    }
    await placeSheets?.();
  } catch (error) {
    await destroyParts(parts);
    throw error;
  }
  return { parts, readers: parts.length, reason: `${parts.length} worker threads in one WAL snapshot, over ${describeRanges(plan)}` };
}
