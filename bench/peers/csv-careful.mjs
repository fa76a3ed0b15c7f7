#!/usr/bin/env node
// The careful hand-written way, kept as a benchmark reference: stream rows (better-sqlite3
// iterate() or pg-query-stream) through csv-stringify into a file with stream.pipeline, so
// memory stays flat and backpressure holds.
// Usage: node bench/peers/csv-careful.mjs --db <url> --out <path>
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify';

const { values } = parseArgs({ options: { db: { type: 'string' }, out: { type: 'string' } } });
const SQL = 'SELECT * FROM tickets ORDER BY id';
const csv = () => stringify({ header: true, cast: { date: (date) => date.toISOString() } });

async function fromPostgres(url, out) {
  const { default: pg } = await import('pg');
  const { default: QueryStream } = await import('pg-query-stream');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await pipeline(client.query(new QueryStream(SQL, [], { batchSize: 1000 })), csv(), createWriteStream(out));
  } finally {
    await client.end();
  }
}

async function fromSqlite(path, out) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true });
  try {
    await pipeline(Readable.from(db.prepare(SQL).iterate()), csv(), createWriteStream(out));
  } finally {
    db.close();
  }
}

await (/^postgres(ql)?:/.test(values.db) ? fromPostgres(values.db, values.out) : fromSqlite(values.db.replace(/^sqlite:/, ''), values.out));
