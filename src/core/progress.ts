import type { Logger } from 'pino';
import type { RunMetrics } from './metrics.ts';
import { groupDigits } from './group-digits.ts';

export const PROGRESS_EVERY_ROWS = 10_000;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function rate(metrics: RunMetrics): number {
  const seconds = metrics.durationMs / 1000;
  return seconds > 0 ? metrics.rows / seconds : 0;
}

/** `[#####.....] 45% 450,000/1,000,000 rows 312,000 rows/s ETA 2s` */
export function progressBar(rows: number, total: number | undefined, rowsPerSecond: number, width = 30): string {
  const speed = `${groupDigits(Math.round(rowsPerSecond))} rows/s`;
  if (!total) return `${groupDigits(rows)} rows ${speed}`;
  const fraction = Math.min(1, rows / total);
  const filled = Math.round(fraction * width);
  const eta = rowsPerSecond > 0 ? formatDuration((total - rows) / rowsPerSecond) : '?';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${groupDigits(rows)}/${groupDigits(total)} rows ${speed} ETA ${eta}`;
}

/**
 * Reports progress as rows reach the sink: a log line every 10,000 rows, or on a terminal a
 * redrawn bar (throttled) with rate and ETA. Returns a function that clears the bar.
 */
export function reportProgress(metrics: RunMetrics, logger: Logger, tty: NodeJS.WriteStream | undefined): () => void {
  if (tty) {
    let drawnAt = 0;
    metrics.onRows((rows) => {
      const now = performance.now();
      if (now - drawnAt < 100) return;
      drawnAt = now;
      tty.write(`\r${progressBar(rows, metrics.expectedRows, rate(metrics))}\x1b[K`);
    });
    return () => {
      if (drawnAt > 0) tty.write('\r\x1b[K');
    };
  }
  let reported = 0;
  metrics.onRows((rows) => {
    const step = Math.floor(rows / PROGRESS_EVERY_ROWS);
    if (step <= reported) return;
    reported = step;
    // The run's logger names the pipeline already.
    logger.info({ rows, expectedRows: metrics.expectedRows, rowsPerSecond: Math.round(rate(metrics)) }, 'progress');
  });
  return () => undefined;
}
