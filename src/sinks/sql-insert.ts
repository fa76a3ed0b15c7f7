import type { WriterSinkSpec } from '../core/types.ts';
import { batchWriter } from './batch-writer.ts';

export interface SqlInsertConfig {
  readonly table: string;
}

/** Inserts each batch with one statement in one transaction (a prepared statement on SQLite, unnest on PostgreSQL). */
export function sqlInsert(config: SqlInsertConfig): WriterSinkSpec<{}> {
  return {
    kind: 'sink.sql-insert',
    type: 'writer',
    summary: `Batched INSERT into ${config.table}, one transaction per batch`,
    countsCommitted: true,
    async open(ctx, columns) {
      const db = await ctx.database();
      const target = { table: config.table, columns };
      return batchWriter(ctx, { commit: (batch) => db.insertBatch(target, batch), highWaterMark: 2 });
    },
  };
}
