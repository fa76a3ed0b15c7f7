import type { Database } from '../core/database.ts';
import { sqlFor } from '../core/sql-binder.ts';

const FIRES_TABLE = `CREATE TABLE IF NOT EXISTS sluice_fires (
  job TEXT NOT NULL,
  fire_at BIGINT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (job, fire_at)
)`;

/** Claims older than this are pruned: a scheduler that lags a fire by a week has bigger problems. */
const KEEP_MS = 7 * 24 * 3600 * 1000;

/**
 * Claims one fire of a job for this process: true for the first scheduler that claims it, false
 * for every other one sharing the database. The job's lock only keeps runs from overlapping; a
 * scheduler whose clock or event loop lags could otherwise run a fire again after the first
 * scheduler's run of it ended.
 */
export async function claimFire(db: Database, job: string, fireAt: Date, runId: string): Promise<boolean> {
  const sql = sqlFor(db.dialect);
  await db.exec(FIRES_TABLE);
  const at = fireAt.getTime();
  const claimed = await db.change(sql`INSERT INTO sluice_fires (job, fire_at, run_id) VALUES (${job}, ${at}, ${runId}) ON CONFLICT (job, fire_at) DO NOTHING`);
  if (claimed === 1) await db.change(sql`DELETE FROM sluice_fires WHERE job = ${job} AND fire_at < ${at - KEEP_MS}`);
  return claimed === 1;
}
