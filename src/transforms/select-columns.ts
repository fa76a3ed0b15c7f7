import { SluiceError } from '../core/errors.ts';
import type { Columns, TransformSpec } from '../core/types.ts';

function pick(input: Columns, names: readonly string[]): number[] {
  return names.map((name) => {
    const index = input.findIndex((c) => c.name === name);
    if (index < 0) throw new SluiceError('INVALID_DEFINITION', `select-columns: no column "${name}" (have ${input.map((c) => c.name).join(', ')}).`);
    return index;
  });
}

/** Keeps (and reorders) the named columns. */
export function selectColumns(names: readonly string[]): TransformSpec {
  return {
    kind: 'transform.select-columns',
    summary: `Keeps columns ${names.join(', ')}`,
    columns: (input) => pick(input, names).map((i) => input[i]!),
    open(_ctx, input) {
      const indexes = pick(input, names);
      return (batch) => batch.map((row) => indexes.map((i) => row[i] ?? null));
    },
  };
}
