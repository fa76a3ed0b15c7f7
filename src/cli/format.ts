import type { RunSummary } from '../core/metrics.ts';
import { groupDigits } from '../core/group-digits.ts';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

export function formatCount(n: number): string {
  return groupDigits(n);
}

/** `export-csv: 100,000 rows -> out/export-csv.csv (14.1 MB) in 0.84 s, 119,000 rows/s, peak RSS 71.0 MB` */
export function formatSummary(summary: RunSummary): string {
  const target = summary.output ? ` -> ${summary.output} (${formatBytes(summary.bytesWritten)})` : '';
  const warnings = Object.entries(summary.warnings).map(([kind, n]) => `, ${formatCount(n)} ${kind}`).join('');
  const readers = summary.notes?.readers as { count: number; reason: string } | undefined;
  const parallel = readers ? `, ${readers.count} reader(s): ${readers.reason}` : '';
  return `${summary.pipeline}: ${formatCount(summary.rows)} rows${target} in ${(summary.durationMs / 1000).toFixed(2)} s, ${formatCount(summary.rowsPerSecond)} rows/s, peak RSS ${formatBytes(summary.peakRssBytes)}${warnings}${parallel}`;
}

/** A plain text table; columns listed in `right` (numbers) are right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
