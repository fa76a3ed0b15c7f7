import type { Readable } from 'node:stream';
import type pg from 'pg';
import type { CopyQuery } from './database.ts';
import { translateDbError } from './errors.ts';
import { loadCopyTo } from './pg-modules.ts';
import { type ClientReaderOptions, PooledClientReader } from './postgres-client.ts';

/**
 * The bytes of `COPY (SELECT ...) TO STDOUT`, with backpressure, on a client of its own, inside a
 * read-only transaction. The query's values are bound with `set_config` (COPY itself takes no
 * parameters) and read back in the SQL with `current_setting`: they are never spliced into SQL.
 */
export class PostgresCopyReader extends PooledClientReader {
  readonly #query: CopyQuery;
  #copy: (Readable & { rowCount: number }) | undefined;
  /** Data rows copied, known at the end. */
  rowCount: number | undefined;

  constructor(pool: pg.Pool, query: CopyQuery, options: ClientReaderOptions) {
    super(pool, options, { highWaterMark: 256 * 1024 });
    this.#query = query;
  }

  protected async start(client: pg.PoolClient): Promise<void> {
    this.busy = true;
    await client.query('BEGIN READ ONLY');
    const { settings } = this.#query;
    if (settings.length > 0) {
      const assignments = settings.map((_, i) => `set_config('sluice.p${i + 1}', $${i + 1}, true)`).join(', ');
      await client.query(`SELECT ${assignments}`, settings.map(String));
    }
    const copy = client.query(loadCopyTo()(this.#query.text)) as unknown as Readable & { rowCount: number };
    this.#copy = copy;
    copy.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) copy.pause();
    });
    copy.on('error', (error: Error) => this.destroy(translateDbError(error, this.options.label)));
    copy.on('end', () => void this.#complete());
  }

  /** COMMIT completes after COPY's CommandComplete, which carries the row count. */
  async #complete(): Promise<void> {
    try {
      await this.client!.query('COMMIT');
      this.rowCount = this.#copy!.rowCount;
      this.busy = false;
      this.finished = true;
      this.push(null);
    } catch (error) {
      this.destroy(translateDbError(error, this.options.label));
    }
  }

  override _read(): void {
    this.#copy?.resume();
  }
}
