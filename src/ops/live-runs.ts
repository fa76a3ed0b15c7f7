import type { RunProgress } from '../core/run.ts';

/** A run of this process, as it goes. */
export interface LiveRun {
  readonly id: string;
  readonly pipeline: string;
  readonly startedAt: Date;
  progress: RunProgress | undefined;
  /** Stops the run (the server's drain, a cancelled job). */
  readonly abort: (reason: Error) => void;
}

/** The runs this process has going, with their latest progress: what `/api/runs` shows live. */
export class LiveRuns {
  readonly #runs = new Map<string, LiveRun>();

  add(run: LiveRun): void {
    this.#runs.set(run.id, run);
  }

  remove(id: string): void {
    this.#runs.delete(id);
  }

  get(id: string): LiveRun | undefined {
    return this.#runs.get(id);
  }

  all(): LiveRun[] {
    return [...this.#runs.values()];
  }

  get size(): number {
    return this.#runs.size;
  }
}
