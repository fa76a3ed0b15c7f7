import { type Database, type UpsertMode, type UpsertOutcome, type UpsertTarget, placeholder, quoteIdent } from '../core/database.ts';
import type { Batch, Row, Value, WriterSinkSpec } from '../core/types.ts';
import { columnIndexes } from '../core/columns.ts';
import { SluiceError } from '../core/errors.ts';
import { batchWriter } from './batch-writer.ts';
import { groupDigits } from '../core/group-digits.ts';

export const UPSERT_MODES = ['insert', 'upsert', 'skip-existing'] as const satisfies readonly UpsertMode[];

export interface SqlUpsertConfig {
  readonly table: string;
  /** The unique column (a primary key or a unique index) that tells a new row from an existing one. */
  readonly key: string;
  /** What a row whose key exists does by default; the `mode` parameter changes it per run. */
  readonly mode?: UpsertMode;
  /**
   * Rows per statement and transaction, gathered from whole batches (default 10,000). A commit
   * costs the database a flush to disk: a thousand rows per commit made a million-row import on
   * PostgreSQL spend a third of its time there.
   */
  readonly commitRows?: number;
}

const DEFAULT_COMMIT_ROWS = 10_000;

const MODE_PARAM = {
  type: 'enum',
  values: UPSERT_MODES,
  description: 'A row whose key exists: insert (rejected), upsert (updated), skip-existing (left alone)',
} as const;

const ATOMIC_PARAM = { type: 'boolean', default: false, description: 'All rows in one transaction: committed only if every row is written, else none (a rejection fails the run)' } as const;

const DRY_RUN_PARAM = { type: 'boolean', default: false, description: 'Validate every row and count what would be written; write nothing' } as const;

/** What upsertBatch would do, from the keys already in the table: for a dry run, which writes nothing. */
async function wouldUpsert(db: Database, target: UpsertTarget, rows: readonly Row[], key: number): Promise<UpsertOutcome> {
  if (rows.length === 0) return { inserted: 0, updated: 0, existing: [] };
  const marks = rows.map((_, i) => placeholder(db.dialect, i + 1)).join(', ');
  const found = await db.query({ text: `SELECT ${quoteIdent(target.key)} FROM ${quoteIdent(target.table)} WHERE ${quoteIdent(target.key)} IN (${marks})`, values: rows.map((row) => row[key] ?? null) });
  const there = new Set(found.map((row) => String(row[0])));
  const existing = rows.flatMap((row, i) => (there.has(String(row[key])) ? [i] : []));
  if (target.mode === 'upsert') return { inserted: rows.length - existing.length, updated: existing.length, existing: [] };
  return { inserted: rows.length - existing.length, updated: 0, existing };
}

/** What an import did, as the run summary's `import` note shows it. */
export interface UpsertCounts {
  inserted: number;
  updated: number;
  skipped: number;
  rejected: number;
}

/** The rows of a batch with distinct keys, and the indexes of later rows repeating an earlier key (those are rejected). */
export function distinctKeys(batch: Batch, key: number): { readonly rows: Row[]; readonly repeated: number[] } {
  const seen = new Set<Value>();
  const rows: Row[] = [];
  const repeated: number[] = [];
  batch.forEach((row, i) => {
    const value = row[key] ?? null;
    const id = typeof value === 'bigint' ? value.toString() : value;
    if (seen.has(id)) return void repeated.push(i);
    seen.add(id);
    rows.push(row);
  });
  return { rows, repeated };
}

/**
 * Writes up to `commitRows` rows at a time with one statement in one transaction, on both
 * databases (INSERT ... ON CONFLICT; COPY for new rows on PostgreSQL); counts inserted, updated, skipped and rejected rows (a key already in the table in
 * insert mode, or repeated within the input) in the run summary, and warns for each rejection.
 */
export function sqlUpsert(config: SqlUpsertConfig): WriterSinkSpec<{ mode: typeof MODE_PARAM & { default: UpsertMode }; dryRun: typeof DRY_RUN_PARAM; atomic: typeof ATOMIC_PARAM }> {
  const mode = { ...MODE_PARAM, default: config.mode ?? 'insert' } as const;
  const commitRows = config.commitRows ?? DEFAULT_COMMIT_ROWS;
  if (!Number.isInteger(commitRows) || commitRows < 1 || commitRows > 1_000_000) {
    throw new SluiceError('INVALID_DEFINITION', `sqlUpsert: commitRows must be a whole number from 1 to 1,000,000, not ${String(config.commitRows)}.`);
  }
  return {
    kind: 'sink.sql-upsert',
    type: 'writer',
    summary: `INSERT ... ON CONFLICT (${config.key}) into ${config.table} (new rows by COPY on PostgreSQL), one transaction per ${groupDigits(commitRows)} rows`,
    params: { mode, dryRun: DRY_RUN_PARAM, atomic: ATOMIC_PARAM },
    countsCommitted: true,
    check: (columns) => void columnIndexes(columns, [config.key]),
    async open(ctx, columns) {
      const db = await ctx.database();
      const [key] = columnIndexes(columns, [config.key]) as [number];
      const target = { table: config.table, columns, key: config.key, mode: ctx.params.mode as UpsertMode };
      const counts: UpsertCounts = { inserted: 0, updated: 0, skipped: 0, rejected: 0 };
      const dryRun = ctx.params.dryRun === true;
      // --atomic: one transaction from the first batch to the last; a rejected row or a failure rolls it all back.
      const session = ctx.params.atomic === true && !dryRun ? await db.beginWrites() : undefined;
      ctx.metrics.note(dryRun ? 'import (dry run: nothing written)' : 'import', counts);
      const reject = (rows: readonly Row[], why: (row: Row) => string) => {
        counts.rejected += rows.length;
        for (const row of rows) ctx.reject({ where: `${config.key} ${String(row[key])}`, reason: why(row), values: Object.fromEntries(columns.map((c, i) => [c.name, row[i]])) });
      };
      return batchWriter(ctx, {
        highWaterMark: 2,
        groupRows: commitRows,
        async commit(batch) {
          const { rows, repeated } = distinctKeys(batch, key);
          const outcome = dryRun ? await wouldUpsert(db, target, rows, key) : await (session ?? db).upsertBatch(target, rows);
          counts.inserted += outcome.inserted;
          counts.updated += outcome.updated;
          reject(repeated.map((i) => batch[i]!), (row) => `${config.key} ${String(row[key])} appears twice in the input`);
          const existing = outcome.existing.map((i) => rows[i]!);
          if (target.mode === 'skip-existing') counts.skipped += existing.length;
          else reject(existing, (row) => `${config.key} ${String(row[key])} already exists`);
        },
        async finish() {
          if (!session) return;
          const rejected = ctx.metrics.warnings.rejected ?? 0;
          if (rejected === 0) return session.commit();
          await session.rollback();
          throw new SluiceError('PRECONDITION_FAILED', `${rejected} row(s) rejected: with --atomic nothing was written (see the rejects).`);
        },
        abandon: async () => session?.rollback(),
      });
    },
  };
}
