import type { Database } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import { parseParams } from '../core/params.ts';
import type { LiveRun, LiveRuns } from '../ops/live-runs.ts';
import { type RunRecord, RunHistory } from '../ops/run-history.ts';
import { RUNS_QUERY, runFilter } from '../ops/runs-query.ts';

/** How far a running run has got: live for this process's runs, as of its last heartbeat for others. */
export interface RunProgressView {
  readonly rows: number;
  readonly bytes: number;
  readonly expectedRows: number | null;
  readonly rowsPerSecond: number;
  /** `live` (this server runs it) or `heartbeat` (another process; as of `heartbeatAt`). */
  readonly source: 'live' | 'heartbeat';
}

export type RunView = RunRecord & { readonly progress?: RunProgressView };

function withProgress(run: RunRecord, live: LiveRun | undefined): RunView {
  if (run.status !== 'running') return run;
  if (live?.progress) {
    const { rows, bytesWritten, expectedRows, rowsPerSecond } = live.progress;
    return { ...run, progress: { rows, bytes: bytesWritten, expectedRows: expectedRows ?? null, rowsPerSecond, source: 'live' } };
  }
  const elapsed = Date.parse(run.heartbeatAt) - Date.parse(run.startedAt);
  const rowsPerSecond = elapsed > 0 ? Math.round((run.rows * 1000) / elapsed) : 0;
  return { ...run, progress: { rows: run.rows, bytes: run.bytes, expectedRows: run.expectedRows, rowsPerSecond, source: 'heartbeat' } };
}

/** Reads the history; a database without one yet has no runs. */
async function recorded<T>(read: () => Promise<T>, none: T): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof SluiceError && error.code === 'MISSING_TABLE') return none;
    throw error;
  }
}

/** `GET /api/runs?pipeline=&job=&status=&limit=`: the query validated by the same specs as `sluice runs`. */
export async function listRuns(db: Database, live: LiveRuns, query: Readonly<Record<string, unknown>>): Promise<RunView[]> {
  const filter = runFilter(parseParams(RUNS_QUERY, query));
  const runs = await recorded(() => RunHistory.reader(db).list(filter), []);
  return runs.map((run) => withProgress(run, live.get(run.id)));
}

/** `GET /api/runs/<id>`: one run, or undefined (404). */
export async function showRun(db: Database, live: LiveRuns, id: string): Promise<(RunView & { readonly partitions?: RunView[] }) | undefined> {
  const history = RunHistory.reader(db);
  const run = await recorded(() => history.get(id), undefined);
  if (!run) return undefined;
  // A partitioned run's partitions are runs of their own (possibly on other machines): listed with it.
  const partitions = await recorded(() => history.partitionsOf(id), []);
  const view = withProgress(run, live.get(id));
  return partitions.length ? { ...view, partitions: partitions.map((p) => withProgress(p, live.get(p.id))) } : view;
}
