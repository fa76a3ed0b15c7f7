import type { Columns, SqlEncoding } from '../core/types.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { PagedSelect, SqlQuery } from '../core/database.ts';

/** What the encoder worker is asked to do. */
export interface EncoderJob {
  readonly path: string;
  readonly label: string;
  readonly query: SqlQuery;
  readonly columns: Columns;
  readonly encoding: SqlEncoding;
  readonly batchSize: number;
  /**
   * The same rows in pages of a unique key, which the worker reads as JSON pages when it writes
   * CSV, TSV or TXT and the table's columns allow it (sqlite-json-pages.ts); `query` otherwise.
   */
  readonly pages?: PagedSelect;
  /**
   * A part of a parallel export (parallel-sqlite.ts): open the connection at once and say so
   * ('opened'), then begin the read transaction when told ('begin' → 'begun'), while the
   * coordinator holds the write lock so that every part reads the same commit.
   */
  readonly snapshot?: boolean;
  /**
   * A part of a parallel XLSX export, but the last: once begun, count the rows and say so
   * ('counted'), so that the parts after it learn where their rows start.
   */
  readonly count?: boolean;
  /**
   * The first part of a parallel XLSX export: the export's first batch, whose values size the
   * columns (as they do when one reader reads it all), read in the part's snapshot.
   */
  readonly sample?: SqlQuery;
  /** Stay for another job once this one ends (a sliced export's next slice), the connection closed meanwhile. */
  readonly more?: boolean;
}

/**
 * To the worker: permission to send more chunks, with the buffers of chunks already read (the
 * worker writes the next ones into them, so no memory is allocated per chunk), or stop now.
 */
export type ToEncoder =
  | { readonly type: 'credit'; readonly credits: number; readonly buffers: ArrayBuffer[] }
  | { readonly type: 'stop' }
  /** A parallel part: begin the read transaction now (the coordinator holds the write lock). */
  | { readonly type: 'begin' }
  /** A later part of a sheet: the data rows before its first (SheetEncoding.firstRow). */
  | { readonly type: 'offset'; readonly rows: number }
  /** The next job, for a thread that stayed after its last (`more`). */
  | { readonly type: 'job'; readonly job: EncoderJob };

/** From the worker: `length` bytes in `bytes` (with the rows encoded so far), the end, or a failure. */
export type FromEncoder =
  | { readonly type: 'chunk'; readonly bytes: ArrayBuffer; readonly length: number; readonly rows: number }
  /** A page of JSON rows (sqlite-json-pages.ts), for the reader to encode. */
  | { readonly type: 'json'; readonly bytes: ArrayBuffer; readonly length: number; readonly rows: number }
  | { readonly type: 'end'; readonly rowCount: number }
  | { readonly type: 'opened' | 'begun' }
  | { readonly type: 'counted'; readonly rows: number }
  | { readonly type: 'error'; readonly code: ErrorCode; readonly message: string };
