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
import { planPartitions } from '../core/run.ts';
import type { KeySlice } from '../core/types.ts';
import { openDatabase } from '../db/open.ts';
import { ExportedSnapshot } from '../db/parallel-postgres.ts';
import type { PostgresDatabase } from '../db/postgres.ts';
import type { PostgresOptions } from '../db/postgres-options.ts';
import { parseDatabaseUrl, redactUrl } from '../db/url.ts';
import { fileOutput, isGzipPath } from '../sinks/file-output.ts';
import type { QueuedRun, RunQueue, SubmitOptions } from './run-queue.ts';

/** One partition of a partitioned run, as a job on the partition queue. */
export interface PartitionJob {
  readonly pipeline: string;
  readonly params: QueuedRun['params'];
  /** The run's database (PostgreSQL), as the coordinator reached it. */
  readonly db: string;
  /** The snapshot every partition reads, exported and held open by the coordinator. */
  readonly snapshot: string;
  readonly slice: KeySlice;
  /** 0-based; partition 0 writes the preamble and header. */
  readonly index: number;
  readonly of: number;
  /** The part file, in the shared output directory. */
  readonly out: string;
  /** The coordinating run's id: the partitions' history rows name it. */
  readonly runId: string;
  readonly submittedBy: string;
}

/** What a finished partition reports; the assembly checks its file against it. */
export interface PartitionResult {
  readonly runId: string;
  readonly rows: number;
  readonly bytes: number;
}

/** One partition's state, in the coordinator's result (for `submit --wait --json` and the API). */
export interface PartitionState {
  readonly index: number;
  readonly job: string;
  readonly state: string;
  readonly attempts: number;
  readonly rows?: number;
  readonly bytes?: number;
}

export interface PartitionedRunOptions {
  readonly queue: RunQueue;
  readonly pipeline: Pipeline;
  /** As submitted (the partitions parse them again) and as parsed. */
  readonly submitted: QueuedRun;
  readonly params: ParamValues;
  readonly url: string;
  readonly databaseOptions?: PostgresOptions;
  readonly out: string;
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

/** Only PostgreSQL gives several processes one snapshot. */
export function checkSnapshotDatabase(url: string): void {
  if (parseDatabaseUrl(url).dialect === 'postgres') return;
  throw new SluiceError('USAGE', `A partitioned run reads one PostgreSQL snapshot from several workers; ${redactUrl(url)} is not PostgreSQL. Submit it without --partitions.`);
}

/**
 * Runs an export as partitions on the queue's workers, the way `pg_dump -j` reads one snapshot
 * with several connections, but across machines:
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
export async function runPartitioned(options: PartitionedRunOptions): Promise<PartitionedRunResult> {
  const { pipeline, url, logger } = options;
  checkSnapshotDatabase(url);
  const db = openDatabase(url, { ...options.databaseOptions, maxConnections: 2 }) as PostgresDatabase;
  const dir = partsDirectory(options.out, options.job.id, options.job.attempt);
  let ids: string[] = [];
  try {
    await removeEarlierParts(options.out, options.job.id, options.job.attempt);
    const snapshot = await ExportedSnapshot.open(db.pool, db.label, { hold: true });
    try {
      const slices = await plan(options, snapshot.id);
      await mkdir(dir, { recursive: true });
      const jobs = slices.map((slice, index): PartitionJob => ({
        pipeline: pipeline.name,
        params: options.submitted.params,
        db: url,
        snapshot: snapshot.id,
        slice,
        index,
        of: slices.length,
        out: join(dir, partName(options.out, index)),
        runId: options.runId,
        submittedBy: options.submitted.submittedBy,
      }));
      ids = await options.queue.submitPartitions(jobs, options.jobs);
      logger.info({ partitions: slices.length, snapshot: snapshot.id }, `${pipeline.name}: ${slices.length} partition(s) queued in snapshot ${snapshot.id}`);
      const states = await awaitPartitions(options, ids);
      // Every partition has read what it needed from the snapshot: it may end now.
      await snapshot.release();
      const bytes = await assemble(jobs, states, options);
      const rows = states.reduce((sum, s) => sum + (s.rows ?? 0), 0);
      return { rows, bytes, partitions: states };
    } finally {
      await snapshot.release().catch(() => undefined);
    }
  } catch (error) {
    if (ids.length > 0) await options.queue.cancelPartitions(ids).catch(() => undefined);
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db.close();
  }
}

/** The partitions' slices, planned in the snapshot the partitions will read. */
async function plan(options: PartitionedRunOptions, snapshot: string): Promise<readonly KeySlice[]> {
  const planner = openDatabase(options.url, { ...options.databaseOptions, maxConnections: 1, snapshot });
  try {
    return await planPartitions(options.pipeline, { params: options.params, database: planner, parts: options.submitted.partitions ?? 1, logger: options.logger, signal: options.signal });
  } finally {
    await planner.close();
  }
}

/** Waits until every partition's job has completed; fails as soon as one has failed for good. */
async function awaitPartitions(options: PartitionedRunOptions, ids: readonly string[]): Promise<PartitionState[]> {
  for (;;) {
    options.signal.throwIfAborted();
    const states = await options.queue.partitionStates(ids);
    options.onProgress?.({ rows: states.reduce((sum, s) => sum + (s.rows ?? 0), 0), bytes: states.reduce((sum, s) => sum + (s.bytes ?? 0), 0) });
    const failed = states.find((s) => s.state === 'failed' || s.state === 'cancelled');
    if (failed) {
      throw new SluiceError('PARTITION_FAILED', `Partition ${failed.index + 1} of ${ids.length} ${failed.state} after ${failed.attempts} attempt(s) (job ${failed.job}); nothing was assembled. See the worker's log, then submit the run again.`);
    }
    if (states.every((s) => s.state === 'completed')) return states;
    await sleep((options.pollSeconds ?? 0.5) * 1000, undefined, { signal: options.signal });
  }
}

/** Joins the part files in key order into the output; resolves to the bytes written (before compression). */
async function assemble(jobs: readonly PartitionJob[], states: readonly PartitionState[], options: PartitionedRunOptions): Promise<number> {
  for (const [i, job] of jobs.entries()) {
    const size = (await stat(job.out).catch(() => undefined))?.size;
    if (size !== states[i]!.bytes) {
      throw new SluiceError('PARTITION_FAILED', `Part ${i + 1} (${job.out}) holds ${size ?? 'no'} bytes where its job wrote ${states[i]!.bytes}: the shared output directory is not the same on every worker. Nothing was assembled.`);
    }
  }
  const output = fileOutput(options.out);
  output.check?.();
  async function* joined(): AsyncGenerator<Buffer> {
    for (const job of jobs) yield* createReadStream(job.out);
  }
  await pipe([Readable.from(joined()), ...output.open()], { signal: options.signal });
  return states.reduce((sum, s) => sum + (s.bytes ?? 0), 0);
}
