import type { Database } from '../core/database.ts';
import type { Logger } from '../core/logger.ts';
import { type RunEnd, RunHistory, type RunStart } from './run-history.ts';

/** After a failure, try the history again this much later (a database that was down may be back). */
const RETRY_AFTER_MS = 5 * 60_000;

interface HistoryState {
  history: Promise<RunHistory> | undefined;
  offUntil: number;
  warned: boolean;
}

const states = new WeakMap<Database, HistoryState>();

function stateOf(db: Database): HistoryState {
  let state = states.get(db);
  if (!state) states.set(db, (state = { history: undefined, offUntil: 0, warned: false }));
  return state;
}

/**
 * Writes a run's history without ever failing the run: a read-only user, a replica or a
 * history table that cannot be written gets one warning per database, and the run goes on.
 */
export class HistoryRecorder {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #state: HistoryState;
  /** The first failure of this recorder, warned about when its run ends (see `settle`). */
  #failure: unknown;

  constructor(db: Database, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
    this.#state = stateOf(db);
  }

  start(run: RunStart): Promise<void> {
    return this.#write((history) => history.start(run));
  }

  heartbeat(id: string, progress: { rows: number; bytes: number; expectedRows?: number }): Promise<void> {
    return this.#write((history) => history.heartbeat(id, progress));
  }

  finish(id: string, end: RunEnd): Promise<void> {
    return this.#write((history) => history.finish(id, end));
  }

  async #write(action: (history: RunHistory) => Promise<void>): Promise<void> {
    const state = this.#state;
    if (Date.now() < state.offUntil) return;
    try {
      state.history ??= RunHistory.open(this.#db);
      await action(await state.history);
    } catch (error) {
      state.history = undefined;
      state.offUntil = Date.now() + RETRY_AFTER_MS;
      this.#failure ??= error;
    }
  }

  /**
   * Warns (once per database) that the history could not be written, unless the run failed for
   * the same reason (an unreachable database): its own error says it, and once is enough.
   */
  settle(runFailure?: Error): void {
    const failure = this.#failure as Error | undefined;
    if (!failure || this.#state.warned) return;
    if (runFailure && runFailure.message === failure.message) return;
    this.#state.warned = true;
    this.#logger.warn(
      { err: failure, database: this.#db.label },
      `run history is off for ${this.#db.label}: ${failure.message} (the run goes on; --no-history turns history off)`,
    );
  }
}
