import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';

/** `20261130T054102Z-3f9a1c`: sorts by start time, reads at a glance, unique enough across machines. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Who runs the process, for the audit trail of CLI and scheduled runs. */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // A container user without a passwd entry.
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

export const HOST = hostname();
