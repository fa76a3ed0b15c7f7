import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { type UpsertTarget, quoteIdent } from '../core/database.ts';
import type { Row } from '../core/types.ts';
import { encodeCsvBatch } from '../format/csv.ts';
import { loadCopyFrom } from './pg-modules.ts';

const UNIQUE_VIOLATION = '23505';

/**
 * Writes a batch of new rows with `COPY ... FROM STDIN`, which the server inserts many rows at a
 * time: a million tickets load in about two thirds of the time `INSERT ... SELECT FROM unnest()`
 * takes, one row at a time (see bench/RESULTS.md). False when a row's key (or another unique
 * value) is already in the table: the batch then wrote nothing, and the caller's
 * `INSERT ... ON CONFLICT` sorts the rows out. Inside a transaction a savepoint keeps that failed
 * COPY from aborting it.
 */
export async function copyInsert(client: pg.PoolClient, target: UpsertTarget, rows: readonly Row[], inTransaction: boolean): Promise<boolean> {
  const columns = target.columns.map((c) => quoteIdent(c.name)).join(', ');
  // CSV as COPY reads it: an unquoted empty field is NULL, `""` empty text; nothing is escaped for spreadsheets.
  const text = encodeCsvBatch(rows as Row[], target.columns, { escapeFormulas: false });
  if (inTransaction) await client.query('SAVEPOINT sluice_copy');
  try {
    const copy = client.query(loadCopyFrom()(`COPY ${quoteIdent(target.table)} (${columns}) FROM STDIN WITH (FORMAT csv)`));
    copy.end(text);
    await finished(copy);
  } catch (error) {
    if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
    if (inTransaction) await client.query('ROLLBACK TO SAVEPOINT sluice_copy');
    return false;
  }
  if (inTransaction) await client.query('RELEASE SAVEPOINT sluice_copy');
  return true;
}
