import type pg from 'pg';
import type { ColumnType, Row } from '../core/types.ts';
import { type CopyQuery, type Database, type SqlQuery, type StreamOptions, type UpdateTarget, type WriteTarget, quoteIdent } from './database.ts';
import { translateDbError } from './errors.ts';
import { loadPg } from './pg-modules.ts';
import { PostgresCopyReader } from './postgres-copy-reader.ts';
import { PostgresCursorReader } from './postgres-cursor-reader.ts';
import { sluiceTypes } from './postgres-types.ts';

export const APPLICATION_NAME = 'sluice';

const ARRAY_TYPES: Record<ColumnType, string> = {
  integer: 'bigint[]',
  text: 'text[]',
  timestamp: 'timestamptz[]',
};

export interface PostgresOptions {
  readonly maxConnections?: number;
}

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly label: string;
  readonly pool: pg.Pool;
  readonly #connectionString: string;

  constructor(connectionString: string, label: string, options: PostgresOptions = {}) {
    this.label = label;
    this.#connectionString = connectionString;
    this.pool = new (loadPg().Pool)({
      connectionString,
      max: options.maxConnections ?? 10,
      application_name: APPLICATION_NAME,
      // Timestamps come back in UTC, whatever the server's or the machine's time zone.
      options: '-c TimeZone=UTC',
      connectionTimeoutMillis: 10_000,
    });
    // An idle pooled client whose server went away emits here; the pool drops it, and the next
    // query reports the failure to whoever runs it.
    this.pool.on('error', () => undefined);
  }

  streamBatches(query: SqlQuery, options: StreamOptions): PostgresCursorReader {
    return new PostgresCursorReader(this.pool, query, {
      batchSize: options.batchSize,
      label: this.label,
      cancel: (pid) => this.cancelBackend(pid),
    });
  }

  copyOut(query: CopyQuery): PostgresCopyReader {
    return new PostgresCopyReader(this.pool, query, { label: this.label, cancel: (pid) => this.cancelBackend(pid) });
  }

  /** `pg_cancel_backend` from a fresh connection: the pool may be exhausted by the very query to cancel. */
  async cancelBackend(pid: number): Promise<void> {
    const client = new (loadPg().Client)({ connectionString: this.#connectionString, connectionTimeoutMillis: 2000, application_name: `${APPLICATION_NAME}-cancel` });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT pg_cancel_backend($1)', [pid]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async query(query: SqlQuery): Promise<Row[]> {
    try {
      const result = await this.pool.query<Row>({ text: query.text, values: [...query.values], rowMode: 'array', types: sluiceTypes });
      return result.rows;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async change(query: SqlQuery): Promise<number> {
    try {
      const result = await this.pool.query({ text: query.text, values: [...query.values] });
      return result.rowCount ?? 0;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async exec(script: string): Promise<void> {
    try {
      await this.pool.query(script);
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /** One `INSERT ... SELECT FROM unnest(...)` per batch: one round trip, one implicit transaction. */
  async insertBatch(target: WriteTarget, rows: readonly Row[]): Promise<void> {
    const names = target.columns.map((c) => quoteIdent(c.name)).join(', ');
    const arrays = target.columns.map((c, i) => `$${i + 1}::${ARRAY_TYPES[c.type]}`).join(', ');
    const values = target.columns.map((_, i) => rows.map((row) => row[i]));
    try {
      await this.pool.query(`INSERT INTO ${quoteIdent(target.table)} (${names}) SELECT * FROM unnest(${arrays})`, values);
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * One `UPDATE ... FROM unnest(...)` per batch: one round trip, one implicit transaction, the
   * rows joined to the table by key.
   */
  async updateBatch(target: UpdateTarget, rows: readonly Row[]): Promise<number> {
    const all = [target.key, ...target.columns];
    const arrays = all.map((c, i) => `$${i + 1}::${ARRAY_TYPES[c.type]}`).join(', ');
    const names = all.map((c) => quoteIdent(c.name)).join(', ');
    const sets = target.columns.map((c) => `${quoteIdent(c.name)} = v.${quoteIdent(c.name)}`).join(', ');
    const key = quoteIdent(target.key.name);
    const values = all.map((_, i) => rows.map((row) => row[i]));
    try {
      const result = await this.pool.query(`UPDATE ${quoteIdent(target.table)} AS t SET ${sets} FROM unnest(${arrays}) AS v(${names}) WHERE t.${key} = v.${key}`, values);
      return result.rowCount ?? 0;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
