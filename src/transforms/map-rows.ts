import { SluiceError } from '../core/errors.ts';
import type { ParamSpecs, ParamValuesOf } from '../core/params.ts';
import type { Columns, Row, TransformSpec } from '../core/types.ts';

export interface MapRowsConfig<P extends ParamSpecs = ParamSpecs> {
  readonly summary: string;
  /** Parameters the mapping reads, declared here: the pipeline takes them, and the mapping sees them typed. */
  readonly params?: P;
  /** The output columns, when the mapping changes them (each row it returns has exactly these). */
  readonly columns?: (input: Columns) => Columns;
  /** Builds the row mapping once per run, from the run's parameters and input columns. */
  readonly map: (params: ParamValuesOf<P>, columns: Columns) => (row: Row) => Row;
}

/**
 * Replaces every row by its mapping (row formatting, derived columns). The first row it returns
 * is checked against the declared columns: a mapping that forgot a column would otherwise shift
 * every value after it into the wrong column of the file.
 */
export function mapRows<const P extends ParamSpecs = {}>(config: MapRowsConfig<P>): TransformSpec<NoInfer<P>> {
  return {
    kind: 'transform.map-rows',
    summary: config.summary,
    params: config.params,
    columns: config.columns,
    open(ctx, columns) {
      const map = config.map(ctx.params, columns);
      const width = (config.columns?.(columns) ?? columns).length;
      let checked = false;
      return (batch) => {
        const out = batch.map(map);
        if (!checked && out.length > 0) {
          checked = true;
          const first = out[0]!;
          if (first.length !== width) {
            throw new SluiceError('INVALID_DEFINITION', `transform.map-rows (${config.summary}): the mapping returns rows of ${first.length} values, but ${width} columns are declared.`);
          }
        }
        return out;
      };
    },
  };
}
