import type { Batch, Columns, Value } from '../core/values.ts';

/**
 * A value as JSON keeps it: integers beyond 2^53 become decimal text (a JSON number would be
 * rounded by every JavaScript reader), timestamps stay ISO-8601 text, SQL NULL is null.
 */
function jsonValue(value: Value | undefined): string | number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

/** One JSON object per row, keyed by column name, each on its own line (LF). */
export function encodeNdjsonBatch(batch: Batch, columns: Columns): string {
  let out = '';
  for (const row of batch) {
    const object: Record<string, string | number | null> = {};
    for (let i = 0; i < columns.length; i++) object[columns[i]!.name] = jsonValue(row[i]);
    out += `${JSON.stringify(object)}\n`;
  }
  return out;
}
