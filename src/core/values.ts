import type { Readable } from 'node:stream';

// The data that moves between stages and the databases: the leaves of the definition types.

/** Logical column types: they decide formatting (CSV escaping, XLSX cell types), not storage. */
export type ColumnType = 'integer' | 'text' | 'timestamp';

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}
export type Columns = readonly Column[];

/**
 * A row is an array in column order. Timestamps travel as canonical ISO-8601 UTC text
 * (`2026-01-01T00:00:07.000Z`), so every database yields the same values.
 */
export type Value = string | number | bigint | null;
export type Row = Value[];
/** Stages pass batches: a chunk per row would cost about a microsecond per row per stage. */
export type Batch = Row[];

/**
 * An encoder's output described so that the database can write it itself (PostgreSQL's COPY),
 * which sluice uses when no transform sits between source and sink.
 */
export interface SqlEncoding {
  readonly format: 'csv' | 'text';
  readonly header: boolean;
  /** Text cells get the spreadsheet formula escape. */
  readonly escapeFormulas: boolean;
  /** Bytes written before the database's own (a BOM). */
  readonly preamble: string;
}

/** Bytes encoded at the source (PostgreSQL's COPY, a SQLite reader's worker); `rowCount` is known once the stream has ended. */
export interface EncodedStream extends Readable {
  readonly rowCount: number | undefined;
  /** For the debug log: `COPY`, `a worker thread`. */
  readonly encodedBy: string;
}
