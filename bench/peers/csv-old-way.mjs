#!/usr/bin/env node
// The old way, kept as a benchmark reference: load the whole table, build one string, write it
// in one go. Memory grows with the table (every row object, then the whole file as a string).
// Usage: node --max-old-space-size=4096 bench/peers/csv-old-way.mjs --db <url> --out <path>
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { db: { type: 'string' }, out: { type: 'string' } } });
const SQL = 'SELECT * FROM tickets ORDER BY id';

async function allRows(url) {
  if (/^postgres(ql)?:/.test(url)) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url });
    try {
      return (await pool.query(SQL)).rows;
    } finally {
      await pool.end();
    }
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(url.replace(/^sqlite:/, ''), { readonly: true });
  try {
    return db.prepare(SQL).all();
  } finally {
    db.close();
  }
}

function field(value) {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const rows = await allRows(values.db);
const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
const lines = rows.map((row) => columns.map((c) => field(row[c])).join(','));
writeFileSync(values.out, [columns.join(','), ...lines].join('\n') + '\n');
