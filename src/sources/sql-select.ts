import { buildCopy, buildCount, buildSelect, type SelectSpec } from '../db/select.ts';
import type { ParamSpecs } from '../core/params.ts';
import type { SourceSpec } from '../core/types.ts';

export interface SqlSelectConfig extends SelectSpec {
  readonly summary: string;
  /** Parameters the filters read, when the source declares them rather than the pipeline. */
  readonly params?: ParamSpecs;
}

/**
 * Rows of one table, filtered by bound parameters and ordered by a key, streamed in batches:
 * a server-side cursor on PostgreSQL, a lazy iterator on SQLite.
 */
export function sqlSelect(config: SqlSelectConfig): SourceSpec {
  return {
    kind: 'source.sql-select',
    summary: config.summary,
    columns: config.columns,
    params: config.params,
    async count(ctx, atMost) {
      const db = await ctx.database();
      const [row] = await db.query(buildCount(db.dialect, config, ctx.params, atMost));
      return Number(row?.[0] ?? 0);
    },
    async open(ctx) {
      const db = await ctx.database();
      return db.streamBatches(buildSelect(db.dialect, config, ctx.params), { batchSize: ctx.batchSize });
    },
    async openEncoded(ctx, encoding) {
      const db = await ctx.database();
      return db.copyOut?.(buildCopy(config, ctx.params, encoding));
    },
  };
}
