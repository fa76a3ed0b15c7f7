import { SluiceError } from './errors.ts';
import { didYouMean } from './suggest.ts';
import type { Columns } from './values.ts';

/** The position of a column by name; an unknown name is INVALID_DEFINITION naming the nearest. */
export function columnIndex(columns: Columns, name: string): number {
  const index = columns.findIndex((c) => c.name === name);
  if (index >= 0) return index;
  const have = columns.map((c) => c.name);
  throw new SluiceError('INVALID_DEFINITION', `no column "${name}" (the rows have ${have.join(', ')}).${didYouMean(name, have)}`);
}

/** The positions of several columns by name (see columnIndex). */
export function columnIndexes(columns: Columns, names: readonly string[]): number[] {
  return names.map((name) => columnIndex(columns, name));
}
