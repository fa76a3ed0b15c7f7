import { Writable } from 'node:stream';
import { SluiceError } from '../core/errors.ts';
import type { Batch, Columns, Row, StageContext, UpdateResult, WriterSinkSpec } from '../core/types.ts';
import type { UpdateTarget } from '../db/database.ts';

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

function indexOf(columns: Columns, name: string, table: string): number {
  const index = columns.findIndex((c) => c.name === name);
  if (index < 0) throw new SluiceError('INVALID_DEFINITION', `sink.sql-update (${table}): no incoming column "${name}" (have ${columns.map((c) => c.name).join(', ')}).`);
  return index;
}

/**
 * Maps incoming rows to `[key, ...columns]`; the identity (no copy) when they already come in
 * that order, as they do when a pipeline selects exactly what it updates.
 */
export function updateLayout(config: SqlUpdateConfig, input: Columns): { target: UpdateTarget; arrange: (batch: Batch) => readonly Row[] } {
  const indexes = [config.key, ...config.columns].map((name) => indexOf(input, name, config.table));
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
export function sqlUpdate(config: SqlUpdateConfig): WriterSinkSpec {
  if (config.columns.length === 0) throw new SluiceError('INVALID_DEFINITION', `sink.sql-update (${config.table}): no columns to set.`);
  return {
    kind: 'sink.sql-update',
    type: 'writer',
    summary: config.summary ?? `Batched UPDATE of ${config.table} (${config.columns.join(', ')}) by ${config.key}, one transaction per batch`,
    updates: { table: config.table, columns: config.columns, finish: config.finish },
    async open(ctx, columns) {
      const { target, arrange } = updateLayout(config, columns);
      const db = await ctx.database();
      let changed = 0;
      let received = 0;
      return new Writable({
        objectMode: true,
        highWaterMark: 1,
        write(batch: Batch, _encoding, callback) {
          received += batch.length;
          db.updateBatch(target, arrange(batch)).then((n) => {
            changed += n;
            callback();
          }, callback);
        },
        final(callback) {
          const missing = received - changed;
          if (missing > 0) ctx.metrics.warn('rows not found', missing);
          Promise.resolve(config.finish?.(ctx, { changed, missing })).then(() => callback(), callback);
        },
      });
    },
  };
}
