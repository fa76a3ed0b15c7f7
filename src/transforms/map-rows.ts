import type { Columns, Row, TransformSpec } from '../core/types.ts';
import type { ParamValues } from '../core/params.ts';

export interface MapRowsConfig {
  readonly summary: string;
  /** The output columns, when the mapping changes them. */
  readonly columns?: (input: Columns) => Columns;
  /** Builds the row mapping once per run, from the run's parameters and input columns. */
  readonly map: (params: ParamValues, columns: Columns) => (row: Row) => Row;
}

/** Replaces every row by its mapping (row formatting, derived columns). */
export function mapRows(config: MapRowsConfig): TransformSpec {
  return {
    kind: 'transform.map-rows',
    summary: config.summary,
    columns: config.columns,
    open(ctx, columns) {
      const map = config.map(ctx.params, columns);
      return (batch) => batch.map(map);
    },
  };
}
