import type { Database, HeldLock } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import { sqlFor } from '../core/sql-binder.ts';
import { HOST } from './run-id.ts';

const LOCKS_TABLE = `CREATE TABLE IF NOT EXISTS sluice_locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  acquired_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
)`;

export interface LeaseOptions {
  /** How long the lease lasts without renewal: a holder killed outright blocks the name at most this long. */
  readonly leaseMs: number;
  /** Unique per holder (the run's id). */
  readonly owner: string;
}

/**
 * A lock as a lease row in the database itself, for engines without session locks (SQLite): it
 * is taken when free or expired, renewed every third of the lease while held, and deleted on
 * release. A holder that stops renewing (SIGKILL, a frozen machine) loses it when it expires.
 */
export async function leaseLock(db: Database, name: string, { leaseMs, owner }: LeaseOptions): Promise<HeldLock | undefined> {
  const sql = sqlFor(db.dialect);
  await db.exec(LOCKS_TABLE);
  const now = Date.now();
  const taken = await db.change(sql`INSERT INTO sluice_locks (name, owner, host, pid, acquired_at, expires_at)
    VALUES (${name}, ${owner}, ${HOST}, ${process.pid}, ${now}, ${now + leaseMs})
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid,
      acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
    WHERE sluice_locks.expires_at < ${now}`);
  if (taken !== 1) return undefined;

  const lost = new AbortController();
  let renewedUntil = now + leaseMs;
  const lose = (why: string, cause?: unknown) => lost.abort(new SluiceError('LOCK_LOST', `Lost the lock "${name}": ${why}; the run stopped so that two runs never overlap.`, { cause }));
  const renew = async () => {
    const until = Date.now() + leaseMs;
    try {
      if ((await db.change(sql`UPDATE sluice_locks SET expires_at = ${until} WHERE name = ${name} AND owner = ${owner}`)) === 1) renewedUntil = until;
      else lose('another run took it over after the lease expired');
    } catch (error) {
      // A busy database may refuse one renewal; the lease holds until it runs out.
      if (Date.now() >= renewedUntil) lose(`its lease could not be renewed (${(error as Error).message})`, error);
    }
  };
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(leaseMs / 3))).unref();
  let released = false;
  return {
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // If this fails the lease simply expires.
      await db.change(sql`DELETE FROM sluice_locks WHERE name = ${name} AND owner = ${owner}`).catch(() => undefined);
    },
  };
}
