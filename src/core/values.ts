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
 * An encoder's output described so that the source can write it itself (PostgreSQL's COPY, a
 * SQLite reader's worker thread), which sluice uses when no transform sits between source and sink.
 */
export interface TextEncoding {
  readonly format: 'csv' | 'text';
  readonly header: boolean;
  /** Text cells get the spreadsheet formula escape. */
  readonly escapeFormulas: boolean;
  /** Bytes written before the database's own (a BOM). */
  readonly preamble: string;
}

/**
 * The rows of an XLSX workbook's sheets (src/format/xlsx-sheet-data.ts), which only a SQLite
 * reader's worker thread writes; the sink wraps them in the workbook.
 */
export interface SheetEncoding {
  readonly format: 'xlsx-sheet';
  /** Rows per sheet, header included. */
  readonly maxRowsPerSheet: number;
  /** The style ids of the workbook the sink writes. */
  readonly styles: { readonly header: number; readonly date: number };
  /**
   * Data rows before the first one read: 0 for a whole export; a later part of a parallel
   * export leaves it out and is told once the parts before it are counted.
   */
  readonly firstRow?: number;
}

export type SqlEncoding = TextEncoding | SheetEncoding;

/** Bytes encoded at the source (PostgreSQL's COPY, a SQLite reader's worker); `rowCount` is known once the stream has ended. */
export interface EncodedStream extends Readable {
  readonly rowCount: number | undefined;
  /** Rows encoded so far, when the source counts them as it goes (progress without scanning the bytes for line ends). */
  readonly rowsSoFar?: number;
  /** For the debug log: `COPY`, `a worker thread`. */
  readonly encodedBy: string;
}
