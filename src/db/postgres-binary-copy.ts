import type pg from 'pg';
import type { BinaryCopy } from '../core/database.ts';
import type { ColumnType, Columns, SheetEncoding, TextEncoding } from '../core/types.ts';
import type { PgBinaryCopyTranscoder } from '../format/pg-binary-copy.ts';
import { type PgBinaryKind, PgBinaryRowsTranscoder } from '../format/pg-binary-rows.ts';
import { type PgSheetKind, PgBinarySheetTranscoder } from '../format/pg-binary-sheet.ts';

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

/** For a sheet: numeric's text stays text (the row path's value is a string), int2/int4/int8 become numbers. */
const SHEET_TYPES: Record<ColumnType, ReadonlyMap<number, PgSheetKind>> = {
  text: new Map([
    [25, 'text'],
    [1043, 'text'],
  ]),
  integer: new Map([
    [20, 'int'],
    [21, 'int'],
    [23, 'int'],
    [1700, 'numeric'],
  ]),
  timestamp: new Map([
    [1184, 'timestamp'],
    [1114, 'timestamp'],
  ]),
};

/** How binary COPY sends each column, or undefined when one column's type is not one the transcoder reads (a boolean's text is not `::text`'s). */
function kindsOf<K>(types: Record<ColumnType, ReadonlyMap<number, K>>, columns: Columns, typeOids: readonly number[]): K[] | undefined {
  const kinds: K[] = [];
  for (const [i, column] of columns.entries()) {
    const kind = types[column.type].get(typeOids[i] ?? 0);
    if (kind === undefined) return undefined;
    kinds.push(kind);
  }
  return kinds;
}

/** What runs `SHOW client_encoding; <describe>` as one simple query: a pooled client, or the pool itself. */
interface Queryable {
  query(text: string): Promise<unknown>;
}

/** The columns' type oids, or undefined unless the connection speaks UTF-8 (the transcoders decode strings that need escapes). */
async function describedTypes(client: Queryable, binary: BinaryCopy): Promise<number[] | undefined> {
  const results = (await client.query(`SHOW client_encoding; ${binary.describe}`)) as pg.QueryResult[];
  const encoding = results[0]?.rows[0]?.client_encoding as string | undefined;
  const fields = results[1]?.fields ?? [];
  if (encoding !== 'UTF8' || fields.length !== binary.columns.length) return undefined;
  return fields.map((f) => f.dataTypeID);
}

/** How binary COPY sends each column of `binary`, for the sheet's transcoder or the text's; undefined where it cannot stand in. */
type ColumnKinds = { readonly sheet: PgSheetKind[]; readonly encoding: SheetEncoding } | { readonly text: PgBinaryKind[]; readonly encoding: TextEncoding };

/** The columns' kinds on this connection (its types and encoding), or undefined when binary COPY cannot stand in for `binary`. */
async function columnKinds(client: Queryable, binary: BinaryCopy): Promise<ColumnKinds | undefined> {
  const oids = await describedTypes(client, binary);
  if (oids === undefined) return undefined;
  const { columns, encoding } = binary;
  if (encoding.format === 'xlsx-sheet') {
    const sheet = kindsOf(SHEET_TYPES, columns, oids);
    return sheet && { sheet, encoding };
  }
  const text = kindsOf(BINARY_TYPES, columns, oids);
  return text && { text, encoding };
}

/** Whether binary COPY can stand in for `binary` on this connection, without building the transcoder. */
export async function canTranscode(client: Queryable, binary: BinaryCopy): Promise<boolean> {
  return (await columnKinds(client, binary)) !== undefined;
}

/**
 * The transcoder that makes a binary COPY of `binary` the bytes the text COPY writes (or, for
 * a sheet, the row path's sheet rows), when the columns' types and the connection's encoding
 * allow; else undefined, and the text COPY runs (a sheet's rows take the row path).
 */
export async function binaryTranscoder(client: Queryable, binary: BinaryCopy): Promise<PgBinaryCopyTranscoder | undefined> {
  const kinds = await columnKinds(client, binary);
  if (kinds === undefined) return undefined;
  if ('sheet' in kinds) return new PgBinarySheetTranscoder(binary.columns, kinds.sheet, kinds.encoding, binary.sampleRows ?? 1);
  return new PgBinaryRowsTranscoder(binary.columns, kinds.text, kinds.encoding);
}
