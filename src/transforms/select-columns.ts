import { columnIndexes } from '../core/columns.ts';
import type { TransformSpec } from '../core/types.ts';

/** Keeps (and reorders) the named columns. */
export function selectColumns(names: readonly string[]): TransformSpec<{}> {
  return {
    kind: 'transform.select-columns',
    summary: `Keeps columns ${names.join(', ')}`,
    columns: (input) => columnIndexes(input, names).map((i) => input[i]!),
    open(_ctx, input) {
      const indexes = columnIndexes(input, names);
      return (batch) => batch.map((row) => indexes.map((i) => row[i] ?? null));
    },
  };
}
