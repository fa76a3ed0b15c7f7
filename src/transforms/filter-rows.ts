import type { ParamSpecs, ParamValuesOf } from '../core/params.ts';
import type { Columns, Row, TransformSpec } from '../core/types.ts';

export interface FilterRowsConfig<P extends ParamSpecs = ParamSpecs> {
  readonly summary: string;
  /** Parameters the predicate reads, declared here: the pipeline takes them, and the predicate sees them typed. */
  readonly params?: P;
  /** Builds the row predicate once per run, from the run's parameters and columns. */
  readonly predicate: (params: ParamValuesOf<P>, columns: Columns) => (row: Row) => boolean;
}

/** Keeps the rows for which the predicate holds. */
export function filterRows<const P extends ParamSpecs = {}>(config: FilterRowsConfig<P>): TransformSpec<NoInfer<P>> {
  return {
    kind: 'transform.filter-rows',
    summary: config.summary,
    params: config.params,
    open(ctx, columns) {
      const keep = config.predicate(ctx.params, columns);
      return (batch) => batch.filter(keep);
    },
  };
}
