import type { Database } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import { sqlFor } from '../core/sql-binder.ts';

/** The version of `sluice_runs` this code writes; a newer one (a newer sluice migrated it) is left alone. */
export const HISTORY_SCHEMA_VERSION = 1;

const TABLES = [
  'CREATE TABLE IF NOT EXISTS sluice_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS sluice_runs (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    params TEXT NOT NULL,
    triggered_by TEXT NOT NULL,
    job TEXT,
    attempt INTEGER NOT NULL,
    who TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    heartbeat_at BIGINT NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    byte_count BIGINT NOT NULL,
    expected_rows BIGINT,
    output TEXT,
    error_code TEXT,
    error_message TEXT
  )`,
  'CREATE INDEX IF NOT EXISTS sluice_runs_by_start ON sluice_runs (started_at)',
  'CREATE INDEX IF NOT EXISTS sluice_runs_by_pipeline ON sluice_runs (pipeline, started_at)',
].join(';\n');

/** Two processes creating the tables at the same moment: PostgreSQL may refuse the slower one once. */
function isCreateRace(error: unknown): boolean {
  const text = `${(error as Error).message} ${String((error as { cause?: { code?: string } }).cause?.code ?? '')}`;
  return /duplicate key|already exists|23505|42P07/.test(text);
}

/** Creates the history tables if missing (timestamps are milliseconds since the epoch, UTC) and checks their version. */
export async function ensureHistorySchema(db: Database): Promise<void> {
  try {
    await db.exec(TABLES);
  } catch (error) {
    if (!isCreateRace(error)) throw error;
    await db.exec(TABLES);
  }
  const sql = sqlFor(db.dialect);
  await db.change(sql`INSERT INTO sluice_schema (component, version) VALUES ('runs', ${HISTORY_SCHEMA_VERSION}) ON CONFLICT (component) DO NOTHING`);
  const [row] = await db.query(sql`SELECT version FROM sluice_schema WHERE component = 'runs'`);
  const version = Number(row?.[0]);
  if (version > HISTORY_SCHEMA_VERSION) {
    throw new SluiceError('PRECONDITION_FAILED', `The run history in ${db.label} has schema version ${version}, newer than this sluice writes (${HISTORY_SCHEMA_VERSION}): upgrade sluice.`);
  }
}
