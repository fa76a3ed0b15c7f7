import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pipeline } from '../core/define.ts';
import { SluiceError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ParamValues } from '../core/params.ts';
import type { Database } from '../core/database.ts';
import { PartitionPlanner } from '../core/run.ts';
import { planKeyRanges, sliceOfRange } from '../db/key-ranges.ts';
import type { KeySlice } from '../core/types.ts';
import { openDatabase } from '../db/open.ts';
import { ExportedSnapshot } from '../db/parallel-postgres.ts';
import type { PostgresDatabase } from '../db/postgres.ts';
import type { PostgresOptions } from '../db/postgres-options.ts';
import { fileOutput, isGzipPath } from '../sinks/file-output.ts';
import { type PartitionJob, type PartitionState, checkSnapshotDatabase } from './partition-job.ts';
import type { QueuedRun, RunQueue, SubmitOptions } from './run-queue.ts';

export interface PartitionedRunOptions {
  readonly queue: RunQueue;
  readonly pipeline: Pipeline;
  /** As submitted (the partitions parse them again) and as parsed. */
  readonly submitted: QueuedRun;
  readonly params: ParamValues;
  readonly url: string;
  readonly databaseOptions?: PostgresOptions;
  /** A file export's output (undefined for an update). */
  readonly out?: string;
  readonly runId: string;
  /** The run's own job and attempt: they name the part folder. */
  readonly job: { readonly id: string; readonly attempt: number };
  readonly jobs: SubmitOptions;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Seconds between looks at the partitions' jobs (default 0.5). */
  readonly pollSeconds?: number;
  /** Called at each look with the rows and bytes of the partitions completed so far. */
  readonly onProgress?: (done: { readonly rows: number; readonly bytes: number }) => void;
}

export interface PartitionedRunResult {
  readonly rows: number;
  readonly bytes: number;
  readonly partitions: readonly PartitionState[];
}

/**
 * The part files' folder, beside the output on the storage the workers share: one per attempt of
 * the run's job, so a partition still running for an attempt that died can never put its part
 * among a later attempt's.
 */
export function partsDirectory(out: string, job: string, attempt: number): string {
  return join(dirname(out), `.${basename(out)}.parts-${job}-${attempt}`);
}

/** Removes the part folders earlier attempts of the job left (a coordinator killed mid-run). */
async function removeEarlierParts(out: string, job: string, attempt: number): Promise<void> {
  for (let earlier = 1; earlier < attempt; earlier++) await rm(partsDirectory(out, job, earlier), { recursive: true, force: true });
}

/** Part files are never compressed: the assembly compresses the joined bytes once, as one run does. */
function partName(out: string, index: number): string {
  const plain = isGzipPath(out) ? out.slice(0, -3) : out;
  return `part-${String(index + 1).padStart(4, '0')}${extname(plain)}`;
}

/**
 * Runs a pipeline as partitions on the queue's workers: a file export (see `partitionedExport`)
 * or an update that runs in place (see `partitionedUpdate`).
 */
export function runPartitioned(options: PartitionedRunOptions): Promise<PartitionedRunResult> {
  checkSnapshotDatabase(options.url);
  return options.pipeline.sink.type === 'writer' ? partitionedUpdate(options) : partitionedExport(options);
}

/**
 * An export as partitions, the way `pg_dump -j` reads one snapshot with several connections,
 * but across machines:
 * 1. this coordinator exports a snapshot (pg_export_snapshot) and holds its transaction open for
 *    the whole run: an exported snapshot can be imported only while the exporting transaction
 *    lives, and it is what makes every partition see one state of the data, however long the
 *    partitions wait in the queue;
 * 2. it cuts the rows into key ranges of about equal row counts in that snapshot (the partition
 *    planner of parallel exports) and queues one job per range;
 * 3. each partition job imports the snapshot and writes its range to a part file (atomically:
 *    an attempt killed half-way leaves no part file, and a retry writes the same bytes again);
 * 4. once every partition has completed, the parts are joined in key order into the output
 *    (atomically, compressed once if the output is .gz), each part's size checked against what
 *    its job reported. The file is byte-identical to one `sluice run` of the same export.
 * If the coordinator dies, its snapshot ends with it: the partitions still waiting fail to import
 * it and the run's job is retried from the start with a new snapshot.
 */
async function partitionedExport(options: PartitionedRunOptions): Promise<PartitionedRunResult> {
  const { url } = options;
  const out = options.out!;
  const db = openDatabase(url, { ...options.databaseOptions, maxConnections: 2 }) as PostgresDatabase;
  const dir = partsDirectory(out, options.job.id, options.job.attempt);
  try {
    await removeEarlierParts(out, options.job.id, options.job.attempt);
    const snapshot = await ExportedSnapshot.open(db.pool, db.label, { hold: true });
    try {
      const planner = openDatabase(url, { ...options.databaseOptions, maxConnections: 1, snapshot: snapshot.id });
      const { slices, startedAt } = await withPlanner(options, planner, async (p) => ({ slices: await p.exportSlices(options.submitted.partitions ?? 1), startedAt: p.startedAt })).finally(() => planner.close());
      await mkdir(dir, { recursive: true });
      const jobs = partitionJobs(options, slices, startedAt, (index) => ({ snapshot: snapshot.id, out: join(dir, partName(out, index)) }));
      const states = await queueAndAwait(options, jobs, `in snapshot ${snapshot.id}`);
      // Every partition has read what it needed from the snapshot: it may end now.
      await snapshot.release();
      const bytes = await assemble(jobs, states, options);
      return { rows: sumOf(states, 'rows'), bytes, partitions: states };
    } finally {
      await snapshot.release().catch(() => undefined);
    }
  } finally {
    await removePartsFolder(dir, options.logger);
    await db.close();
  }
}

/**
 * Removes the run's part folder. A partition still running when the run failed may add its part
 * file while the folder goes (ENOTEMPTY): the removal is retried, and a folder that stays is a
 * warning, never the run's outcome (it replaced the failed partition's error once).
 */
async function removePartsFolder(dir: string, logger: Logger): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch((error: unknown) => logger.warn({ dir, error: (error as Error).message }, 'could not remove the part folder; remove it by hand'));
}

/**
 * An update that runs in place (the 8-digit migration) as partitions: the pre-flight runs once
 * here (a refusal stops the run before any partition is queued), the rows it will change are cut
 * into key ranges, and each partition job runs the update over its range only, page by page.
 * pg-boss delivers at least once, and a retried partition changes nothing twice: its pages
 * select only rows that still need the change. The update's final check runs here, over the
 * whole table, once every partition has committed. All partitions stamp the run's start time.
 */
async function partitionedUpdate(options: PartitionedRunOptions): Promise<PartitionedRunResult> {
  const db = openDatabase(options.url, { ...options.databaseOptions, maxConnections: 2 });
  try {
    return await withPlanner(options, db, async (planner) => {
      const keyset = await planner.updateKeyset();
      if (!keyset) return { rows: 0, bytes: 0, partitions: [] };
      const source = { table: keyset.table, key: keyset.key, ...(keyset.where ? { where: keyset.where } : {}), values: [] };
      const { ranges } = await planKeyRanges((q) => db.query(q), db.dialect, source, options.submitted.partitions ?? 1);
      const jobs = partitionJobs(options, ranges.map(sliceOfRange), planner.startedAt, () => ({}));
      const states = await queueAndAwait(options, jobs, `over ${keyset.table}.${keyset.key}`);
      const rows = sumOf(states, 'rows');
      await planner.finish(rows);
      return { rows, bytes: 0, partitions: states };
    });
  } finally {
    await db.close();
  }
}

async function withPlanner<T>(options: PartitionedRunOptions, database: Database, work: (planner: PartitionPlanner) => Promise<T>): Promise<T> {
  const planner = await PartitionPlanner.open(options.pipeline, { params: options.params, database, logger: options.logger, signal: options.signal });
  return work(planner);
}

function sumOf(states: readonly PartitionState[], field: 'rows' | 'bytes'): number {
  return states.reduce((sum, s) => sum + (s[field] ?? 0), 0);
}

/** One job per slice, in key order. */
function partitionJobs(options: PartitionedRunOptions, slices: readonly KeySlice[], startedAt: Date, extra: (index: number) => Pick<PartitionJob, 'snapshot' | 'out'>): PartitionJob[] {
  return slices.map((slice, index) => ({
    pipeline: options.pipeline.name,
    params: options.submitted.params,
    db: options.url,
    slice,
    index,
    of: slices.length,
    startedAt: startedAt.toISOString(),
    runId: options.runId,
    submittedBy: options.submitted.submittedBy,
    ...extra(index),
  }));
}

/** Queues the partitions and waits for them all; cancels those left when the run fails or is aborted. */
async function queueAndAwait(options: PartitionedRunOptions, jobs: readonly PartitionJob[], where: string): Promise<PartitionState[]> {
  const ids = await options.queue.submitPartitions(jobs, options.jobs);
  options.logger.info({ partitions: jobs.length }, `${options.pipeline.name}: ${jobs.length} partition(s) queued ${where}`);
  try {
    return await awaitPartitions(options, ids);
  } catch (error) {
    await options.queue.cancelPartitions(ids).catch(() => undefined);
    throw error;
  }
}

/** Waits until every partition's job has completed; fails as soon as one has failed for good. */
async function awaitPartitions(options: PartitionedRunOptions, ids: readonly string[]): Promise<PartitionState[]> {
  for (;;) {
    options.signal.throwIfAborted();
    const states = await options.queue.partitionStates(ids);
    options.onProgress?.({ rows: sumOf(states, 'rows'), bytes: sumOf(states, 'bytes') });
    const failed = states.find((s) => s.state === 'failed' || s.state === 'cancelled');
    if (failed) {
      throw new SluiceError('PARTITION_FAILED', `Partition ${failed.index + 1} of ${ids.length} ${failed.state} after ${failed.attempts} attempt(s) (job ${failed.job}); the run stopped (an export assembles nothing; an update keeps what its partitions committed). See the worker's log, then submit the run again.`);
    }
    if (states.every((s) => s.state === 'completed')) return states;
    await sleep((options.pollSeconds ?? 0.5) * 1000, undefined, { signal: options.signal });
  }
}

/** Joins the part files in key order into the output; resolves to the bytes written (before compression). */
async function assemble(jobs: readonly PartitionJob[], states: readonly PartitionState[], options: PartitionedRunOptions): Promise<number> {
  for (const [i, job] of jobs.entries()) {
    const size = (await stat(job.out!).catch(() => undefined))?.size;
    if (size !== states[i]!.bytes) {
      throw new SluiceError('PARTITION_FAILED', `Part ${i + 1} (${job.out}) holds ${size ?? 'no'} bytes where its job wrote ${states[i]!.bytes}: the shared output directory is not the same on every worker. Nothing was assembled.`);
    }
  }
  const output = fileOutput(options.out!);
  output.check?.();
  async function* joined(): AsyncGenerator<Buffer> {
    for (const job of jobs) yield* createReadStream(job.out!);
  }
  await pipe([Readable.from(joined()), ...output.open()], { signal: options.signal });
  return sumOf(states, 'bytes');
}
