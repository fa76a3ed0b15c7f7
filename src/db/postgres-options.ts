export interface PostgresOptions {
  readonly maxConnections?: number;
  /** Give up connecting after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * A streaming read (cursor, COPY) fails when the server sends nothing for this long while we
   * wait on it; also the server's `idle_in_transaction_session_timeout` (default 120 s; 0: never).
   */
  readonly stallTimeoutMs?: number;
  /**
   * The server's `statement_timeout` for the short statements (counts, pages, batch writes), and
   * the time we wait for their answer before giving up (default 600 s; 0: none). Streaming reads
   * are exempt: a long export is one statement to the server, and is watched for progress instead.
   */
  readonly statementTimeoutMs?: number;
  /**
   * Read every row in this exported snapshot (pg_export_snapshot), which another session holds
   * open: the partitions of one run see one state of the data (see src/queue/partitioned-run.ts).
   */
  readonly snapshot?: string;
  /**
   * Who writes a COPY export's CSV, TSV or TXT: `node` (the default) reads the values as binary
   * COPY and encodes them on the export's thread, the fastest for one export; `server` has the
   * backend write the text and Node only pass the bytes on, which keeps a server's event loop free
   * under many concurrent downloads (`sluice serve` uses it). The bytes are the same.
   */
  readonly copyEncoding?: 'node' | 'server';
}

export const POSTGRES_DEFAULTS = { connectTimeoutMs: 10_000, stallTimeoutMs: 120_000, statementTimeoutMs: 600_000 } as const;
