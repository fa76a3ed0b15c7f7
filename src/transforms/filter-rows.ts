import type { Columns, Row, TransformSpec } from '../core/types.ts';
import type { ParamValues } from '../core/params.ts';

export interface FilterRowsConfig {
  readonly summary: string;
  /** Builds the row predicate once per run, from the run's parameters and columns. */
  readonly predicate: (params: ParamValues, columns: Columns) => (row: Row) => boolean;
}

/** Keeps the rows for which the predicate holds. */
export function filterRows(config: FilterRowsConfig): TransformSpec {
  return {
    kind: 'transform.filter-rows',
    summary: config.summary,
    open(ctx, columns) {
      const keep = config.predicate(ctx.params, columns);
      return (batch) => batch.filter(keep);
    },
  };
}
