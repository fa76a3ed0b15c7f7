import type pg from 'pg';
import type { ColumnType, Row } from '../core/types.ts';
import { type CopyQuery, type Database, type HeldLock, type SqlQuery, type StreamOptions, type UpdateTarget, type UpsertOutcome, type UpsertTarget, type WriteSession, type WriteTarget, quoteIdent } from '../core/database.ts';
import { translateDbError } from './errors.ts';
import { loadPg } from './pg-modules.ts';
import { type ClientReaderOptions, snapshotTransaction } from './postgres-client.ts';
import { sluiceClientClass } from './postgres-client-class.ts';
import { copyInsert } from './postgres-copy-insert.ts';
import { PostgresCopyReader } from './postgres-copy-reader.ts';
import { canTranscode } from './postgres-binary-copy.ts';
import { PostgresCursorReader } from './postgres-cursor-reader.ts';
import { advisoryLock } from './postgres-lock.ts';
import { POSTGRES_DEFAULTS, type PostgresOptions } from './postgres-options.ts';
import { sluiceTypes } from './postgres-types.ts';

export type { PostgresOptions } from './postgres-options.ts';

export const APPLICATION_NAME = 'sluice';

const ARRAY_TYPES: Record<ColumnType, string> = {
  integer: 'bigint[]',
  text: 'text[]',
  timestamp: 'timestamptz[]',
};

/** TCP keepalive probes start after this much silence, so a dead peer is noticed by the OS. */
const KEEPALIVE_DELAY_MS = 10_000;
/** How much longer than the server's own statement timeout we wait for its answer. */
const ANSWER_GRACE_MS = 5000;

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly label: string;
  readonly pool: pg.Pool;
  readonly #stallTimeoutMs: number;
  readonly #snapshot: string | undefined;
  readonly #binaryCopy: boolean;
  /** Upserts (one per sink that opened) whose COPY met a key already in the table: the rest of their batches go by INSERT. */
  readonly #copyRefused = new WeakSet<UpsertTarget>();

  constructor(connectionString: string, label: string, options: PostgresOptions = {}) {
    this.label = label;
    const { connectTimeoutMs, stallTimeoutMs, statementTimeoutMs } = { ...POSTGRES_DEFAULTS, ...options };
    this.#stallTimeoutMs = stallTimeoutMs;
    this.#snapshot = options.snapshot;
    this.#binaryCopy = options.copyEncoding !== 'server';
    this.pool = new (loadPg().Pool)({
      connectionString,
      // Plain statements (counts, pages, batch writes, locks, history) wait this long for an answer.
      Client: sluiceClientClass({ answerTimeoutMs: statementTimeoutMs > 0 ? statementTimeoutMs + ANSWER_GRACE_MS : undefined }),
      max: options.maxConnections ?? 10,
      application_name: APPLICATION_NAME,
      // Timestamps come back in UTC, whatever the server's or the machine's time zone.
      options: '-c TimeZone=UTC',
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
      statement_timeout: statementTimeoutMs > 0 ? statementTimeoutMs : undefined,
      idle_in_transaction_session_timeout: stallTimeoutMs > 0 ? stallTimeoutMs : undefined,
    });
    // An idle pooled client whose server went away emits here; the pool drops it, and the next
    // query reports the failure to whoever runs it.
    this.pool.on('error', () => undefined);
  }

  streamBatches(query: SqlQuery, options: StreamOptions): PostgresCursorReader {
    return new PostgresCursorReader(this.pool, query, { ...this.readerOptions(), batchSize: options.batchSize });
  }

  copyOut(query: CopyQuery): PostgresCopyReader {
    return new PostgresCopyReader(this.pool, query, this.readerOptions());
  }

  /** A sheet's rows from binary COPY when its columns' types allow; not with `copyEncoding: 'server'` (the server's threads are busy elsewhere then, see PostgresOptions). */
  async copyOutSheet(query: CopyQuery): Promise<PostgresCopyReader | undefined> {
    if (!this.#binaryCopy || !query.binary) return undefined;
    const transcodable = await canTranscode(this.pool, query.binary).catch((error: unknown) => Promise.reject(translateDbError(error, this.label)));
    return transcodable ? this.copyOut(query) : undefined;
  }

  /** What this database's streaming readers are opened with; in `snapshot` if given (the parts of a parallel export), else in the database's own, if any. */
  readerOptions(snapshot = this.#snapshot): ClientReaderOptions {
    return { label: this.label, stallTimeoutMs: this.#stallTimeoutMs, binaryCopy: this.#binaryCopy, ...(snapshot === undefined ? {} : { snapshot }) };
  }

  async query(query: SqlQuery): Promise<Row[]> {
    const config = { text: query.text, values: [...query.values], rowMode: 'array' as const, types: sluiceTypes };
    try {
      if (this.#snapshot === undefined) return (await this.pool.query<Row>(config)).rows;
      return await this.#inSnapshot((client) => client.query<Row>(config).then((result) => result.rows));
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /** Runs `work` in a transaction of the shared snapshot, on a client of its own. */
  async #inSnapshot<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query(snapshotTransaction(this.#snapshot!));
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      client.release(true);
      throw error;
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
      await this.pool.query({ text: `INSERT INTO ${quoteIdent(target.table)} (${names}) SELECT * FROM unnest(${arrays})`, values });
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * One `INSERT ... SELECT FROM unnest(...) ON CONFLICT` per batch. `RETURNING` tells the rows
   * apart: the keys written (insert, skip-existing), or whether each row was new (`xmax = 0`:
   * no older version of the row existed) for upsert.
   */
  upsertBatch(target: UpsertTarget, rows: readonly Row[]): Promise<UpsertOutcome> {
    return this.#upsertOn(this.pool, target, rows);
  }

  /** A transaction on a pooled connection of its own; the connection goes back to the pool (or away, if it broke) when it ends. */
  async beginWrites(): Promise<WriteSession> {
    const client = await this.pool.connect().catch((error: unknown) => Promise.reject(translateDbError(error, this.label)));
    let ended = false;
    const end = async (statement: 'COMMIT' | 'ROLLBACK') => {
      if (ended) return;
      ended = true;
      try {
        await client.query(statement);
        client.release();
      } catch (error) {
        client.release(true);
        throw translateDbError(error, this.label);
      }
    };
    try {
      await client.query('BEGIN');
    } catch (error) {
      client.release(true);
      throw translateDbError(error, this.label);
    }
    return { upsertBatch: (target, rows) => this.#upsertOn(client, target, rows), commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
  }

  async #upsertOn(on: pg.Pool | pg.PoolClient, target: UpsertTarget, rows: readonly Row[]): Promise<UpsertOutcome> {
    if (rows.length > 0 && !this.#copyRefused.has(target)) {
      if (await this.#copyOn(on, target, rows)) return { inserted: rows.length, updated: 0, existing: [] };
      // Keys already there: this import updates or skips rows, and COPY would fail batch after batch.
      this.#copyRefused.add(target);
    }
    const names = target.columns.map((c) => quoteIdent(c.name));
    const arrays = target.columns.map((c, i) => `$${i + 1}::${ARRAY_TYPES[c.type]}`).join(', ');
    const values = target.columns.map((_, i) => rows.map((row) => row[i]));
    const key = quoteIdent(target.key);
    const insert = `INSERT INTO ${quoteIdent(target.table)} (${names.join(', ')}) SELECT * FROM unnest(${arrays}) ON CONFLICT (${key})`;
    try {
      if (target.mode === 'upsert') {
        const sets = names.filter((n) => n !== key).map((n) => `${n} = EXCLUDED.${n}`).join(', ');
        const result = await on.query<{ inserted: boolean }>({ text: `${insert} DO UPDATE SET ${sets} RETURNING (xmax = 0) AS inserted`, values });
        const inserted = result.rows.filter((r) => r.inserted).length;
        return { inserted, updated: result.rows.length - inserted, existing: [] };
      }
      const result = await on.query<{ key: string }>({ text: `${insert} DO NOTHING RETURNING ${key}::text AS key`, values });
      const written = new Set(result.rows.map((r) => r.key));
      const at = target.columns.findIndex((c) => c.name === target.key);
      const existing = rows.flatMap((row, i) => (written.has(String(row[at])) ? [] : [i]));
      return { inserted: written.size, updated: 0, existing };
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /** The batch by COPY on the session's connection or a pooled one; false when a key was already there (nothing written). */
  async #copyOn(on: pg.Pool | pg.PoolClient, target: UpsertTarget, rows: readonly Row[]): Promise<boolean> {
    const inTransaction = on !== this.pool;
    const client = inTransaction ? (on as pg.PoolClient) : await this.pool.connect().catch((error: unknown) => Promise.reject(translateDbError(error, this.label)));
    try {
      const copied = await copyInsert(client, target, rows, inTransaction);
      if (!inTransaction) client.release();
      return copied;
    } catch (error) {
      if (!inTransaction) client.release(true);
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
      const text = `UPDATE ${quoteIdent(target.table)} AS t SET ${sets} FROM unnest(${arrays}) AS v(${names}) WHERE t.${key} = v.${key}`;
      const result = await this.pool.query({ text, values });
      return result.rowCount ?? 0;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  advisoryLock(name: string): Promise<HeldLock | undefined> {
    return advisoryLock(this.pool, this.label, name);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
