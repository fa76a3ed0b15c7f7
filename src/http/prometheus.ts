import type { RunSummary } from '../core/metrics.ts';

/** Upper bounds (seconds) of the run duration histogram. */
export const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

interface PipelineStats {
  started: number;
  finished: Record<RunSummary['status'], number>;
  failed: Map<string, number>;
  rows: number;
  bytes: number;
  durationCounts: number[];
  durationSum: number;
  durationCount: number;
}

function emptyStats(): PipelineStats {
  return {
    started: 0,
    finished: { succeeded: 0, failed: 0, aborted: 0 },
    failed: new Map(),
    rows: 0,
    bytes: 0,
    durationCounts: DURATION_BUCKETS.map(() => 0),
    durationSum: 0,
    durationCount: 0,
  };
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The server's counters, fed from the RunSummary every run returns (or carries on its error):
 * the same figures the CLI prints, summed per pipeline, rendered as Prometheus text.
 */
export class ServerMetrics {
  readonly #pipelines = new Map<string, PipelineStats>();
  #active = 0;

  #stats(pipeline: string): PipelineStats {
    let stats = this.#pipelines.get(pipeline);
    if (!stats) this.#pipelines.set(pipeline, (stats = emptyStats()));
    return stats;
  }

  get activeExports(): number {
    return this.#active;
  }

  runStarted(pipeline: string): void {
    this.#stats(pipeline).started++;
    this.#active++;
  }

  /** Call exactly once per `runStarted`, with the run's summary (or none if it has none). */
  runEnded(pipeline: string, summary: RunSummary | undefined, errorCode?: string): void {
    this.#active--;
    const stats = this.#stats(pipeline);
    const status = summary?.status ?? 'failed';
    stats.finished[status]++;
    if (status === 'failed') {
      const code = summary?.error?.code ?? errorCode ?? 'INTERNAL';
      stats.failed.set(code, (stats.failed.get(code) ?? 0) + 1);
    }
    if (!summary) return;
    stats.rows += summary.rows;
    stats.bytes += summary.bytesWritten;
    const seconds = summary.durationMs / 1000;
    DURATION_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) stats.durationCounts[i]!++;
    });
    stats.durationSum += seconds;
    stats.durationCount++;
  }

  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string, samples: string[]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    const each = (fn: (p: string, s: PipelineStats) => string[]) => [...this.#pipelines].flatMap(([p, s]) => fn(`pipeline="${label(p)}"`, s));
    family('sluice_runs_started_total', 'counter', 'Runs started (parameters valid, export slot taken).', each((p, s) => [`sluice_runs_started_total{${p}} ${s.started}`]));
    family(
      'sluice_runs_finished_total',
      'counter',
      'Runs ended, by status (succeeded, failed, aborted by the client).',
      each((p, s) => Object.entries(s.finished).map(([status, n]) => `sluice_runs_finished_total{${p},status="${status}"} ${n}`)),
    );
    family(
      'sluice_runs_failed_total',
      'counter',
      'Failed runs by error code.',
      each((p, s) => [...s.failed].map(([code, n]) => `sluice_runs_failed_total{${p},code="${label(code)}"} ${n}`)),
    );
    family('sluice_rows_exported_total', 'counter', 'Rows that reached the sink.', each((p, s) => [`sluice_rows_exported_total{${p}} ${s.rows}`]));
    family('sluice_bytes_exported_total', 'counter', 'Bytes written to responses (after compression).', each((p, s) => [`sluice_bytes_exported_total{${p}} ${s.bytes}`]));
    family('sluice_active_exports', 'gauge', 'Exports running now.', [`sluice_active_exports ${this.#active}`]);
    family(
      'sluice_run_duration_seconds',
      'histogram',
      'Run duration, from validation to the last byte.',
      each((p, s) => [
        ...DURATION_BUCKETS.map((bound, i) => `sluice_run_duration_seconds_bucket{${p},le="${bound}"} ${s.durationCounts[i]}`),
        `sluice_run_duration_seconds_bucket{${p},le="+Inf"} ${s.durationCount}`,
        `sluice_run_duration_seconds_sum{${p}} ${s.durationSum}`,
        `sluice_run_duration_seconds_count{${p}} ${s.durationCount}`,
      ]),
    );
    family('process_resident_memory_bytes', 'gauge', 'Resident memory of the server process.', [`process_resident_memory_bytes ${process.memoryUsage.rss()}`]);
    return `${lines.join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
