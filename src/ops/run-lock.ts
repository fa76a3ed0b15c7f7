import type { Database, HeldLock } from '../core/database.ts';
import { leaseLock } from './lease-lock.ts';

/** Seconds a SQLite lease lasts unless renewed (PostgreSQL's locks need none: they end with their connection). */
export const DEFAULT_LEASE_SECONDS = 30;

/**
 * The lock that keeps two runs of one job (or one `--lock` name) from overlapping, across
 * processes and machines sharing the database: a PostgreSQL advisory lock held on a connection
 * of its own, or a lease row elsewhere.
 */
export function acquireRunLock(db: Database, name: string, options: { readonly owner: string; readonly leaseMs?: number }): Promise<HeldLock | undefined> {
  if (db.advisoryLock) return db.advisoryLock(name);
  return leaseLock(db, name, { owner: options.owner, leaseMs: options.leaseMs ?? DEFAULT_LEASE_SECONDS * 1000 });
}
