import type { Row } from '../core/types.ts';

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * better-sqlite3 reads SQLite's 64-bit integers as doubles unless a statement asks for BigInts,
 * and a double cannot hold every integer above 2^53 (9007199254740993 would read as
 * ...992). Statements that read rows ask for BigInts, and this turns the ones a number holds
 * exactly back into numbers: the same values the PostgreSQL reader yields for the same data.
 * Measured on 1,000,000 tickets: no difference in read time beyond run-to-run noise.
 */
export function exactIntegers(row: Row): Row {
  for (let i = 0; i < row.length; i++) {
    const value: unknown = row[i];
    if (typeof value === 'bigint' && value >= MIN_SAFE && value <= MAX_SAFE) row[i] = Number(value);
    // A BLOB is read as the text its bytes spell (as SQLite's CAST does), so that it is quoted and escaped like any text.
    else if (value instanceof Uint8Array) row[i] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  }
  return row;
}
