import type pg from 'pg';
import type Cursor from 'pg-cursor';
import type { Row } from '../core/types.ts';
import type { SqlQuery } from '../core/database.ts';
import { translateDbError } from './errors.ts';
import { loadCursor } from './pg-modules.ts';
import { type ClientReaderOptions, PooledClientReader, streamingTransaction } from './postgres-client.ts';
import { sluiceTypes } from './postgres-types.ts';

export interface CursorReaderOptions extends ClientReaderOptions {
  readonly batchSize: number;
}

/**
 * A server-side cursor (pg-cursor) on a client of its own, in a read-only transaction, read as
 * `Row[]` batches: each `_read` fetches exactly one batch.
 */
export class PostgresCursorReader extends PooledClientReader {
  readonly #query: SqlQuery;
  readonly #batchSize: number;
  #cursor: Cursor<Row> | undefined;
  /** The result's column names, known with the first batch. */
  columnNames: string[] | undefined;

  constructor(pool: pg.Pool, query: SqlQuery, options: CursorReaderOptions) {
    super(pool, options, { objectMode: true, highWaterMark: 2 });
    this.#query = query;
    this.#batchSize = options.batchSize;
  }

  protected async start(client: pg.PoolClient): Promise<void> {
    this.busy = true;
    await client.query(streamingTransaction(this.options.snapshot));
    this.busy = false;
    this.serverAnswered();
    const config = { rowMode: 'array' as const, types: sluiceTypes };
    const CursorClass = loadCursor();
    this.#cursor = client.query(new CursorClass<Row>(this.#query.text, [...this.#query.values], config));
  }

  override _read(): void {
    if (this.busy || this.finished) return;
    this.busy = true;
    this.awaitServer();
    const batchSize = this.#batchSize;
    this.#cursor!.read(batchSize, (error, rows, result) => {
      this.busy = false;
      this.serverAnswered();
      if (this.destroyed) return;
      if (error) {
        this.destroy(translateDbError(error, this.options.label));
        return;
      }
      this.columnNames ??= result?.fields.map((f) => f.name);
      if (rows.length > 0) this.push(rows);
      if (rows.length < batchSize) void this.#complete();
    });
  }

  /** The last batch is in: close the cursor and the transaction, so the client goes back to the pool clean. */
  async #complete(): Promise<void> {
    try {
      this.busy = true;
      this.awaitServer();
      await new Promise<void>((resolve, reject) => this.#cursor!.close((error) => (error ? reject(error) : resolve())));
      await this.client!.query('COMMIT');
      this.busy = false;
      this.serverAnswered();
      this.finished = true;
      this.push(null);
    } catch (error) {
      this.destroy(translateDbError(error, this.options.label));
    }
  }
}
