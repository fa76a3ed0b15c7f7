/**
 * Counters for one run. Stages report rows as batches cross their boundaries; the output
 * reports bytes; a sampler tracks peak memory while the run is active.
 */
export interface StageSummary {
  readonly stage: string;
  readonly rowsIn: number;
  readonly rowsOut: number;
  /** From the stage's first to its last output batch. */
  readonly activeMs: number;
}

export interface RunSummary {
  readonly pipeline: string;
  /** `refused`: a precondition said no (no rows, a refused migration): nothing went wrong, nothing was done. */
  readonly status: 'succeeded' | 'failed' | 'aborted' | 'refused';
  readonly rows: number;
  readonly bytesWritten: number;
  readonly durationMs: number;
  readonly rowsPerSecond: number;
  readonly peakRssBytes: number;
  readonly peakHeapBytes: number;
  readonly warnings: Readonly<Record<string, number>>;
  readonly stages: readonly StageSummary[];
  readonly output?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** What a pipeline reports beside its rows (a migration's pre-flight counts), by name. */
  readonly notes?: Readonly<Record<string, unknown>>;
}

class StageCounter {
  rowsIn = 0;
  rowsOut = 0;
  firstAt = 0;
  lastAt = 0;
  constructor(readonly stage: string) {}

  out(rows: number): void {
    const now = performance.now();
    if (this.rowsOut === 0) this.firstAt = now;
    this.lastAt = now;
    this.rowsOut += rows;
  }
}

type RowListener = (rows: number) => void;

export class RunMetrics {
  readonly pipeline: string;
  readonly startedAt = performance.now();
  endedAt: number | undefined;
  bytesWritten = 0;
  peakRssBytes = 0;
  peakHeapBytes = 0;
  /** Rows that reached the sink. */
  rows = 0;
  /** Rows the source expects to yield, when known (drives ETA). */
  expectedRows: number | undefined;
  readonly warnings: Record<string, number> = {};
  readonly #notes: Record<string, unknown> = {};
  readonly #stages: StageCounter[] = [];
  readonly #rowListeners: RowListener[] = [];
  #sampler: NodeJS.Timeout | undefined;
  /** The sink reports its commits (recordCommitted) rather than counting rows as they reach it. */
  #countCommits = false;

  constructor(pipeline: string) {
    this.pipeline = pipeline;
    this.sampleMemory();
  }

  stage(name: string): StageCounter {
    const counter = new StageCounter(name);
    this.#stages.push(counter);
    return counter;
  }

  /** Records a batch leaving stage `index` (and so entering stage `index + 1`). */
  recordBatch(index: number, rows: number): void {
    this.#stages[index]!.out(rows);
    const next = this.#stages[index + 1];
    if (!next) return;
    next.rowsIn += rows;
    if (index + 2 === this.#stages.length) this.#reachSink(next, rows);
  }

  /** The sink consumes what reaches it; its count is the run's row count. */
  #reachSink(sink: StageCounter, rows: number): void {
    if (this.#countCommits) return;
    sink.out(rows);
    this.rows += rows;
    for (const listener of this.#rowListeners) listener(this.rows);
  }

  /**
   * From now on the run's row count is what the sink reports as committed, not what reaches
   * it: a writer interrupted between receiving a batch and committing it reports what it kept.
   */
  countCommitsAtSink(): void {
    this.#countCommits = true;
  }

  /** A writer sink committed `rows` (see countCommitsAtSink). */
  recordCommitted(rows: number): void {
    const sink = this.#stages[this.#stages.length - 1];
    if (!this.#countCommits || !sink) return;
    sink.out(rows);
    this.rows += rows;
    for (const listener of this.#rowListeners) listener(this.rows);
  }

  onRows(listener: RowListener): void {
    this.#rowListeners.push(listener);
  }

  /** Adds a note to the run's summary (for the CLI's log, the history's viewers, the console). */
  note(name: string, value: unknown): void {
    this.#notes[name] = value;
  }

  warn(kind: string, count = 1): void {
    this.warnings[kind] = (this.warnings[kind] ?? 0) + count;
  }

  sampleMemory(): void {
    const { rss, heapUsed } = process.memoryUsage();
    if (rss > this.peakRssBytes) this.peakRssBytes = rss;
    if (heapUsed > this.peakHeapBytes) this.peakHeapBytes = heapUsed;
  }

  startSampling(intervalMs = 100): void {
    this.#sampler ??= setInterval(() => this.sampleMemory(), intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
    this.sampleMemory();
    this.endedAt ??= performance.now();
  }

  get durationMs(): number {
    return (this.endedAt ?? performance.now()) - this.startedAt;
  }

  summary(status: RunSummary['status'], extra: Pick<RunSummary, 'output' | 'error'> = {}): RunSummary {
    const durationMs = this.durationMs;
    return {
      pipeline: this.pipeline,
      status,
      rows: this.rows,
      bytesWritten: this.bytesWritten,
      durationMs: Math.round(durationMs),
      rowsPerSecond: durationMs > 0 ? Math.round((this.rows * 1000) / durationMs) : 0,
      peakRssBytes: this.peakRssBytes,
      peakHeapBytes: this.peakHeapBytes,
      warnings: { ...this.warnings },
      stages: this.#stages.map((s) => ({ stage: s.stage, rowsIn: s.rowsIn, rowsOut: s.rowsOut, activeMs: Math.round(s.lastAt - s.firstAt) })),
      ...(Object.keys(this.#notes).length > 0 ? { notes: { ...this.#notes } } : {}),
      ...extra,
    };
  }
}
