import { SluiceError } from '../core/errors.ts';

const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90d`, `12h`, `30m`, `45s` in milliseconds. */
export function parseAge(text: string, label: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new SluiceError('INVALID_PARAM', `${label} must be a number and a unit: 90d, 12h, 30m or 45s (got "${text}").`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** `1.2 s`, `3m04s`, `2h05m`: a duration for people. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
