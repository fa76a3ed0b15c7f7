import { Writable } from 'node:stream';
import type { Batch, WriterSinkSpec } from '../core/types.ts';

/** Inserts each batch with one statement in one transaction (a prepared statement on SQLite, unnest on PostgreSQL). */
export function sqlInsert(config: { readonly table: string }): WriterSinkSpec {
  return {
    kind: 'sink.sql-insert',
    type: 'writer',
    summary: `Batched INSERT into ${config.table}, one transaction per batch`,
    async open(ctx, columns) {
      const db = await ctx.database();
      const target = { table: config.table, columns };
      return new Writable({
        objectMode: true,
        highWaterMark: 2,
        write(batch: Batch, _encoding, callback) {
          db.insertBatch(target, batch).then(() => callback(), callback);
        },
      });
    },
  };
}
