import { BATCH_SIZE_PARAM, parseParam } from '../core/params.ts';
import type { Row, Value } from '../core/types.ts';
import type { BatchStream, Database } from '../core/database.ts';
import { openDatabase } from './open.ts';

/** A row as the seed app's code expects it: column name to value. */
export type RowObject = Record<string, Value>;

export interface StreamRowsOptions {
  readonly batchSize?: number;
}

export interface ProcessBatchesOptions {
  readonly batchSize?: number;
  /** Stop after exactly this many rows. */
  readonly limit?: number;
}

export interface ProcessBatchesResult {
  readonly rows: number;
  readonly batches: number;
  /** The callback returned false, or the limit was reached, before the query ran out. */
  readonly stoppedEarly: boolean;
}

function toObjects(stream: BatchStream, batch: readonly Row[]): RowObject[] {
  const names = stream.columnNames ?? [];
  return batch.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i] ?? null])));
}

/** The pipelines' own `batchSize` parameter: the same bounds and the same error text. */
function checkBatchSize(batchSize: number): number {
  return parseParam('batchSize', BATCH_SIZE_PARAM, batchSize) as number;
}

/**
 * Calls `onBatch` with successive batches of row objects, in constant memory, on the same
 * streaming readers as the pipelines. Returning `false` stops early; the query is then
 * cancelled and its connection released. SQL uses the database's own placeholders.
 */
export async function processBatches(
  db: Database,
  sql: string,
  params: readonly Value[],
  onBatch: (rows: RowObject[]) => boolean | void | Promise<boolean | void>,
  options: ProcessBatchesOptions = {},
): Promise<ProcessBatchesResult> {
  const batchSize = checkBatchSize(options.batchSize ?? 1000);
  const limit = options.limit ?? Infinity;
  const stream = db.streamBatches({ text: sql, values: params }, { batchSize: Math.min(batchSize, limit) });
  let rows = 0;
  let batches = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Row[]>) {
      const batch = chunk.length > limit - rows ? chunk.slice(0, limit - rows) : chunk;
      rows += batch.length;
      batches++;
      // Leaving the loop early destroys the stream, which cancels the query and frees its connection.
      if ((await onBatch(toObjects(stream, batch))) === false || rows >= limit) return { rows, batches, stoppedEarly: true };
    }
    return { rows, batches, stoppedEarly: false };
  } finally {
    // Return only once the connection is back, so that closing the database right after is clean.
    if (!stream.closed) await new Promise((resolve) => stream.once('close', resolve));
  }
}

/** Calls `onRow` once per row, in constant memory (batched underneath). */
export async function streamRows(
  db: Database,
  sql: string,
  params: readonly Value[],
  onRow: (row: RowObject) => void | Promise<void>,
  options: StreamRowsOptions = {},
): Promise<number> {
  const { rows } = await processBatches(
    db,
    sql,
    params,
    async (batch) => {
      for (const row of batch) await onRow(row);
    },
    options,
  );
  return rows;
}

/** The seed app's `db` object: its two streaming helpers over one database. */
export interface AppDatabase {
  readonly database: Database;
  streamRows(sql: string, params: readonly Value[], onRow: (row: RowObject) => void | Promise<void>, options?: StreamRowsOptions): Promise<number>;
  processBatches(
    sql: string,
    params: readonly Value[],
    onBatch: (rows: RowObject[]) => boolean | void | Promise<boolean | void>,
    options?: ProcessBatchesOptions,
  ): Promise<ProcessBatchesResult>;
  close(): Promise<void>;
}

export function openAppDatabase(url: string): AppDatabase {
  const database = openDatabase(url);
  return {
    database,
    streamRows: (sql, params, onRow, options) => streamRows(database, sql, params, onRow, options),
    processBatches: (sql, params, onBatch, options) => processBatches(database, sql, params, onBatch, options),
    close: () => database.close(),
  };
}
