import { Readable } from 'node:stream';
import type BetterSqlite3 from 'better-sqlite3';
import type { Row } from '../core/types.ts';
import type { SqlQuery } from '../core/database.ts';
import { translateDbError } from './errors.ts';
import { exactIntegers } from './sqlite-integers.ts';

/**
 * Streams a query as `Row[]` batches from better-sqlite3's lazy iterator: each `_read` pulls one
 * batch, so memory holds a couple of batches whatever the table size. The reader owns its
 * connection (opened in `_construct`, closed in `_destroy`) because a connection that is
 * iterating cannot be used for anything else.
 */
export class SqliteBatchReader extends Readable {
  readonly #openConnection: () => BetterSqlite3.Database;
  readonly #query: SqlQuery;
  readonly #batchSize: number;
  readonly #label: string;
  #connection: BetterSqlite3.Database | undefined;
  /** The result's column names, known once the statement is prepared. */
  columnNames: string[] | undefined;
  #rows: IterableIterator<unknown[]> | undefined;

  constructor(openConnection: () => BetterSqlite3.Database, query: SqlQuery, batchSize: number, label: string) {
    super({ objectMode: true, highWaterMark: 2 });
    this.#openConnection = openConnection;
    this.#query = query;
    this.#batchSize = batchSize;
    this.#label = label;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    try {
      this.#connection = this.#openConnection();
      const statement = this.#connection.prepare(this.#query.text).raw(true).safeIntegers(true);
      this.columnNames = statement.columns().map((c) => c.name);
      this.#rows = statement.iterate(...this.#query.values) as IterableIterator<unknown[]>;
      callback();
    } catch (error) {
      callback(translateDbError(error, this.#label));
    }
  }

  override _read(): void {
    // better-sqlite3 is synchronous: yielding to the event loop between batches keeps timers,
    // signals and other requests (an HTTP server's /healthz) responsive during a long export.
    setImmediate(() => this.#readBatch());
  }

  #readBatch(): void {
    if (this.destroyed) return;
    const rows = this.#rows!;
    const batch: Row[] = [];
    try {
      for (let i = 0; i < this.#batchSize; i++) {
        const next = rows.next();
        if (next.done) {
          if (batch.length > 0) this.push(batch);
          this.push(null);
          return;
        }
        batch.push(exactIntegers(next.value as Row));
      }
    } catch (error) {
      this.destroy(translateDbError(error, this.#label));
      return;
    }
    this.push(batch);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    try {
      this.#rows?.return?.();
      this.#connection?.close();
    } catch (closeError) {
      error ??= translateDbError(closeError, this.#label);
    }
    callback(error);
  }
}
