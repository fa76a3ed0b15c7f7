import { SluiceError } from '../core/errors.ts';
import type { Batch, Columns, Row, StageContext, UpdateResult, WriterSinkSpec } from '../core/types.ts';
import type { UpdateTarget } from '../core/database.ts';
import { batchWriter } from './batch-writer.ts';
import { columnIndexes } from '../core/columns.ts';

export interface SqlUpdateConfig {
  readonly table: string;
  /** The column that identifies a row; it must be among the incoming columns. */
  readonly key: string;
  /** The columns to set, taken by name from the incoming columns. */
  readonly columns: readonly string[];
  readonly summary?: string;
  /** Runs after the last batch is committed (a final check, a summary); a throw fails the run. */
  readonly finish?: (ctx: StageContext, result: UpdateResult) => Promise<void>;
}

/**
 * Maps incoming rows to `[key, ...columns]`; the identity (no copy) when they already come in
 * that order, as they do when a pipeline selects exactly what it updates.
 */
export function updateLayout(config: SqlUpdateConfig, input: Columns): { target: UpdateTarget; arrange: (batch: Batch) => readonly Row[] } {
  const indexes = columnIndexes(input, [config.key, ...config.columns]);
  const target: UpdateTarget = { table: config.table, key: input[indexes[0]!]!, columns: indexes.slice(1).map((i) => input[i]!) };
  const inOrder = indexes.length === input.length && indexes.every((index, i) => index === i);
  const arrange = inOrder ? (batch: Batch) => batch : (batch: Batch) => batch.map((row) => indexes.map((i) => row[i] ?? null));
  return { target, arrange };
}

/**
 * Applies each batch as one set-based UPDATE in one transaction (a prepared statement inside a
 * transaction on SQLite, `UPDATE ... FROM unnest(...)` on PostgreSQL), keyed by one column. A
 * batch is either wholly committed or not at all, so a killed run loses nothing it reported.
 */
export function sqlUpdate(config: SqlUpdateConfig): WriterSinkSpec<{}> {
  if (config.columns.length === 0) throw new SluiceError('INVALID_DEFINITION', `sink.sql-update (${config.table}): no columns to set.`);
  return {
    kind: 'sink.sql-update',
    type: 'writer',
    summary: config.summary ?? `Batched UPDATE of ${config.table} (${config.columns.join(', ')}) by ${config.key}, one transaction per batch`,
    updates: { table: config.table, columns: config.columns, finish: config.finish },
    check: (columns) => void updateLayout(config, columns),
    countsCommitted: true,
    async open(ctx, columns) {
      const { target, arrange } = updateLayout(config, columns);
      const db = await ctx.database();
      let changed = 0;
      let received = 0;
      return batchWriter(ctx, {
        async commit(batch) {
          received += batch.length;
          changed += await db.updateBatch(target, arrange(batch));
        },
        async finish() {
          const missing = received - changed;
          if (missing > 0) ctx.metrics.warn('rows not found', missing);
          await config.finish?.(ctx, { changed, missing });
        },
      });
    },
  };
}
