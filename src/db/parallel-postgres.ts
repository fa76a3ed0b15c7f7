import type pg from 'pg';
import type { SqlQuery } from '../core/database.ts';
import type { ParamValues } from '../core/params.ts';
import type { Row, TextEncoding } from '../core/types.ts';
import { translateDbError } from './errors.ts';
import { describeRanges, planKeyRanges } from './key-ranges.ts';
import { type EncodedParts, destroyParts, partEvent } from './parallel-parts.ts';
import type { PostgresDatabase } from './postgres.ts';
import { PostgresCopyReader } from './postgres-copy-reader.ts';
import { checkedSnapshotId } from './postgres-client.ts';
import { sluiceTypes } from './postgres-types.ts';
import { type SelectSpec, buildCopy, rangeSource } from './select.ts';

/**
 * A transaction whose snapshot other sessions import, as `pg_dump -j` does. For a parallel export
 * it stays open only until every reader has imported it: after that each reader's transaction
 * keeps the snapshot. A partitioned run holds it (`hold`) until its last partition has begun.
 */
export class ExportedSnapshot {
  private constructor(
    readonly id: string,
    readonly client: pg.PoolClient,
    readonly label: string,
  ) {}

  #released = false;

  static async open(pool: pg.Pool, label: string, options: { readonly hold?: boolean } = {}): Promise<ExportedSnapshot> {
    const client = await pool.connect().catch((error: unknown) => Promise.reject(translateDbError(error, label)));
    try {
      // The plan's count without parallel workers: they took it from 50 to 110 ms per million
      // rows on two cores, and the readers about to start want the cores. Held on purpose while
      // partitions wait in the queue: the server's idle timeout must not end it.
      const settings = ['SET LOCAL max_parallel_workers_per_gather = 0', ...(options.hold ? ['SET LOCAL idle_in_transaction_session_timeout = 0'] : [])];
      await client.query(['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', ...settings].join('; '));
      const { rows } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      return new ExportedSnapshot(checkedSnapshotId(rows[0]!.id), client, label);
    } catch (error) {
      client.release(true);
      throw translateDbError(error, label);
    }
  }

  /** A query in the snapshot (the key-range plan). */
  async query(query: SqlQuery): Promise<Row[]> {
    try {
      return (await this.client.query<Row>({ text: query.text, values: [...query.values], rowMode: 'array', types: sluiceTypes })).rows;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /** Ends the transaction and returns the client (discarded if the end fails); once only, later calls do nothing. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      await this.client.query('COMMIT');
      this.client.release();
    } catch (error) {
      this.client.release(true);
      throw translateDbError(error, this.label);
    }
  }
}

/** The pool's size: the coordinator holds one connection while the readers take theirs. */
function poolSize(pool: pg.Pool): number {
  return pool.options.max ?? 10;
}

/**
 * One COPY per key range, each on a pooled connection of its own, all in one snapshot. The
 * plan runs in the coordinator's transaction, so even a limit cuts the same rows the readers see.
 */
export async function postgresParts(db: PostgresDatabase, spec: SelectSpec, params: ParamValues, encoding: TextEncoding, wanted: number): Promise<EncodedParts> {
  const size = poolSize(db.pool);
  const readers = Math.min(wanted, size - 1);
  if (readers < 2) return { readers: 1, reason: `the connection pool (${size}) leaves no room for a second reader beside the coordinator` };
  const snapshot = await ExportedSnapshot.open(db.pool, db.label);
  const parts: PostgresCopyReader[] = [];
  try {
    const plan = await planKeyRanges((q) => snapshot.query(q), 'postgres', rangeSource('postgres', spec, params), readers);
    if (plan.ranges.length < 2) {
      await snapshot.release();
      return { readers: 1, reason: `${plan.rows} row(s) make a single range` };
    }
    const options = db.readerOptions(snapshot.id);
    for (const [i, range] of plan.ranges.entries()) {
      const query = buildCopy(spec, params, i === 0 ? encoding : { ...encoding, header: false }, { range, keyType: plan.keyType });
      const part = new PostgresCopyReader(db.pool, query, options);
      // Errors are the assembly's to report (it checks `errored` as it starts); none may go unheard before.
      part.on('error', () => undefined);
      parts.push(part);
    }
    await Promise.all(parts.map((part) => partEvent(part, 'joined')));
    await snapshot.release();
    return { parts, readers: parts.length, reason: `${parts.length} COPY readers in one exported snapshot, over ${describeRanges(plan)}` };
  } catch (error) {
    await destroyParts(parts);
    await snapshot.release().catch(() => undefined);
    throw error;
  }
}
