import type pg from 'pg';
import type { BinaryCopy } from '../core/database.ts';
import type { ColumnType, Columns } from '../core/types.ts';
import { type PgBinaryKind, PgBinaryRowsTranscoder } from '../format/pg-binary-rows.ts';

/** PostgreSQL type oids whose binary COPY the transcoder reads, by sluice column type. */
const BINARY_TYPES: Record<ColumnType, ReadonlyMap<number, PgBinaryKind>> = {
  // text, varchar
  text: new Map([
    [25, 'text'],
    [1043, 'text'],
  ]),
  // int8, int2, int4, numeric: sent as their text (::text is their output function)
  integer: new Map([
    [20, 'digits'],
    [21, 'digits'],
    [23, 'digits'],
    [1700, 'digits'],
  ]),
  // timestamptz, timestamp: sent as the timestamp to_char would print
  timestamp: new Map([
    [1184, 'timestamp'],
    [1114, 'timestamp'],
  ]),
};

/** How binary COPY sends each column, or undefined when one column's type is not one the transcoder reads (a boolean's text is not `::text`'s). */
function binaryKinds(columns: Columns, typeOids: readonly number[]): PgBinaryKind[] | undefined {
  const kinds: PgBinaryKind[] = [];
  for (const [i, column] of columns.entries()) {
    const kind = BINARY_TYPES[column.type].get(typeOids[i] ?? 0);
    if (kind === undefined) return undefined;
    kinds.push(kind);
  }
  return kinds;
}

/**
 * The transcoder that makes a binary COPY of `binary` the bytes the text COPY writes, when the
 * columns' types and the connection's encoding (UTF-8: the transcoder decodes strings that need
 * escapes) allow; else undefined, and the text COPY runs.
 */
export async function binaryTranscoder(client: pg.PoolClient, binary: BinaryCopy): Promise<PgBinaryRowsTranscoder | undefined> {
  const results = (await client.query(`SHOW client_encoding; ${binary.describe}`)) as unknown as pg.QueryResult[];
  const encoding = results[0]?.rows[0]?.client_encoding as string | undefined;
  const fields = results[1]?.fields ?? [];
  if (encoding !== 'UTF8' || fields.length !== binary.columns.length) return undefined;
  const kinds = binaryKinds(binary.columns, fields.map((f) => f.dataTypeID));
  return kinds && new PgBinaryRowsTranscoder(binary.columns, kinds, binary.encoding);
}
