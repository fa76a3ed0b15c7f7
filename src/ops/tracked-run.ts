import type { Database, HeldLock } from '../core/database.ts';
import type { Pipeline } from '../core/define.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { type ParamSpecs, parseParams } from '../core/params.ts';
import { type RunOptions, type RunProgress, type RunResult, runPipeline } from '../core/run.ts';
import { HistoryRecorder } from './history-recorder.ts';
import type { LiveRuns } from './live-runs.ts';
import { HOST, newRunId } from './run-id.ts';
import type { RunStart, RunTrigger } from './run-history.ts';
import { acquireRunLock } from './run-lock.ts';

/** Seconds between a running run's heartbeats (`SLUICE_HEARTBEAT_SECONDS`); three missed ones read as abandoned. */
export function heartbeatMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.SLUICE_HEARTBEAT_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
}

export interface TrackOptions {
  readonly trigger: RunTrigger;
  readonly who: string;
  readonly job?: string;
  readonly attempt?: number;
  /** Record the run in the database's `sluice_runs` (default true). */
  readonly history?: boolean;
  /** Run only if no other run holds this lock; otherwise record a skip and fail with LOCKED. */
  readonly lock?: { readonly name: string; readonly leaseMs?: number };
  readonly runId?: string;
  readonly live?: LiveRuns;
}

/** The parameters as the run will use them (defaults applied), for the audit trail; as given if they do not validate. */
function recordedParams(pipeline: Pipeline, given: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return { ...parseParams(pipeline.allParams, given as Record<string, string>) };
  } catch {
    return { ...given };
  }
}

function lockedError(name: string): SluiceError {
  return new SluiceError('LOCKED', `Another run holds the lock "${name}"; this one did not start (exit 75: try again later).`);
}

/**
 * The run's lock when it asks for one, held; when another run holds it, the run is recorded as
 * skipped and fails with LOCKED (exit 75).
 */
async function lockOrSkip(database: Database, lock: TrackOptions['lock'], history: HistoryRecorder | undefined, start: RunStart): Promise<HeldLock | undefined> {
  if (!lock) return undefined;
  const held = await acquireRunLock(database, lock.name, { owner: start.id, leaseMs: lock.leaseMs });
  if (held) return held;
  await history?.start({ ...start, status: 'skipped', errorMessage: `the lock "${lock.name}" was held by another run` });
  history?.settle();
  throw lockedError(lock.name);
}

/**
 * A run as the front ends make it: recorded in the run history (start, heartbeats with its
 * progress, end), optionally under a lock that keeps two runs of one job from overlapping, and
 * listed among the process's live runs. History never fails the run (see HistoryRecorder).
 */
export async function trackedRun<P extends ParamSpecs>(pipeline: Pipeline<P>, options: RunOptions<P> & { readonly database: Database }, track: TrackOptions): Promise<RunResult> {
  const generic = pipeline as Pipeline;
  const id = track.runId ?? newRunId();
  const logger = options.logger ?? silentLogger;
  const history = track.history === false ? undefined : new HistoryRecorder(options.database, logger);
  const beatEvery = heartbeatMs();
  const start = {
    id,
    pipeline: pipeline.name,
    params: recordedParams(generic, (options.params ?? {}) as Record<string, unknown>),
    trigger: track.trigger,
    job: track.job,
    attempt: track.attempt,
    who: track.who,
    host: HOST,
    heartbeatMs: beatEvery,
    output: options.output?.description,
  };
  const lock = await lockOrSkip(options.database, track.lock, history, start);
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, ...(options.signal ? [options.signal] : []), ...(lock ? [lock.lost] : [])]);
  let latest: RunProgress | undefined;
  track.live?.add({ id, pipeline: pipeline.name, startedAt: new Date(), progress: undefined, abort: (reason) => stop.abort(reason) });
  const beat = setInterval(() => void history?.heartbeat(id, { rows: latest?.rows ?? 0, bytes: latest?.bytesWritten ?? 0, expectedRows: latest?.expectedRows }), beatEvery).unref();
  try {
    await history?.start(start);
    const onProgress = (progress: RunProgress) => {
      latest = progress;
      const live = track.live?.get(id);
      if (live) live.progress = progress;
      options.onProgress?.(progress);
    };
    const result = await runPipeline(pipeline, { ...options, signal, onProgress });
    await history?.finish(id, { status: 'succeeded', rows: result.rows, bytes: result.bytesWritten });
    history?.settle();
    return result;
  } catch (error) {
    const failure = toSluiceError(error);
    const summary = failure.summary;
    await history?.finish(id, { status: summary?.status ?? 'failed', rows: summary?.rows ?? 0, bytes: summary?.bytesWritten ?? 0, errorCode: failure.code, errorMessage: failure.message });
    history?.settle(failure);
    throw failure;
  } finally {
    clearInterval(beat);
    track.live?.remove(id);
    await lock?.release();
  }
}

/** What `recordedWork` records: a run's start, without what the recorder adds itself. */
export type WorkStart = Omit<RunStart, 'host' | 'heartbeatMs' | 'status' | 'errorMessage'>;

/**
 * Records work that is not one pipeline run, such as a partitioned run's coordinator, in the run
 * history as a run: its start, a heartbeat with `progress()` while it works, and its end.
 */
export async function recordedWork<T extends { readonly rows: number; readonly bytes: number }>(
  database: Database,
  start: WorkStart,
  options: { readonly logger: Logger; readonly history?: boolean; readonly lock?: TrackOptions['lock']; readonly progress: () => { rows: number; bytes: number } },
  work: (lost: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const history = options.history === false ? undefined : new HistoryRecorder(database, options.logger);
  const beatEvery = heartbeatMs();
  const started = { ...start, host: HOST, heartbeatMs: beatEvery };
  const lock = await lockOrSkip(database, options.lock, history, started);
  await history?.start(started);
  const beat = setInterval(() => void history?.heartbeat(start.id, options.progress()), beatEvery).unref();
  try {
    const result = await work(lock?.lost);
    await history?.finish(start.id, { status: 'succeeded', rows: result.rows, bytes: result.bytes });
    history?.settle();
    return result;
  } catch (error) {
    const failure = toSluiceError(error);
    const { rows, bytes } = options.progress();
    await history?.finish(start.id, { status: failure.code === 'ABORTED' ? 'aborted' : 'failed', rows, bytes, errorCode: failure.code, errorMessage: failure.message });
    history?.settle(failure);
    throw failure;
  } finally {
    clearInterval(beat);
    await lock?.release();
  }
}

