#!/usr/bin/env node
// The reference the XLSX benchmark compares sluice against: the tickets table written the way a
// careful developer would do it by hand with exceljs's streaming WorkbookWriter. Rows are read
// lazily (better-sqlite3 `iterate()`, or a pg-cursor in batches of 1,000), typed like sluice
// types them (numbers, Date for timestamps, text), a bold header, and `row.commit()` per row.
// It does not wait for the zip output: exceljs offers no public way to, which is the point.
//
//   node bench/peers/xlsx-exceljs.mjs --db sqlite:/path/raffle.db --out /tmp/x.xlsx
//   node bench/peers/xlsx-exceljs.mjs --db postgres://postgres@127.0.0.1:5432/test --out /tmp/x.xlsx
//
// Prints nothing on stdout; errors go to stderr with exit status 1.
import ExcelJS from 'exceljs';

const COLUMNS = [
  ['id', 'integer'],
  ['ticket_number', 'text'],
  ['barcode', 'text'],
  ['category', 'text'],
  ['price_cents', 'integer'],
  ['status', 'text'],
  ['buyer_name', 'text'],
  ['buyer_email', 'text'],
  ['buyer_phone', 'text'],
  ['seller', 'text'],
  ['sold_at', 'timestamp'],
  ['created_at', 'timestamp'],
  ['updated_at', 'timestamp'],
];
const SQL = `SELECT ${COLUMNS.map(([name]) => name).join(', ')} FROM tickets ORDER BY id`;
const TIMESTAMPS = COLUMNS.flatMap(([, type], i) => (type === 'timestamp' ? [i] : []));

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--db') out.db = argv[i + 1];
    else if (argv[i] === '--out') out.out = argv[i + 1];
    else throw new Error(`unknown argument ${argv[i]} (usage: --db <url> --out <path>)`);
  }
  if (!out.db || !out.out) throw new Error('usage: --db <url> --out <path>');
  return out;
}

async function* sqliteRows(url) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(url.replace(/^sqlite:/, ''), { readonly: true });
  try {
    for (const row of db.prepare(SQL).raw(true).iterate()) {
      for (const i of TIMESTAMPS) if (row[i] !== null) row[i] = new Date(row[i]);
      yield row;
    }
  } finally {
    db.close();
  }
}

async function* postgresRows(url) {
  const { default: pg } = await import('pg');
  const { default: Cursor } = await import('pg-cursor');
  pg.types.setTypeParser(20, Number); // bigint ids
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const cursor = client.query(new Cursor(SQL, [], { rowMode: 'array' }));
    for (;;) {
      const rows = await cursor.read(1000);
      for (const row of rows) yield row; // pg already yields timestamptz as Date
      if (rows.length < 1000) break;
    }
    await cursor.close();
  } finally {
    await client.end();
  }
}

async function main() {
  const { db, out } = args(process.argv.slice(2));
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: out, useSharedStrings: false, useStyles: true });
  const sheet = workbook.addWorksheet('Tickets', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = COLUMNS.map(([name, type]) => ({
    header: name,
    key: name,
    width: type === 'timestamp' ? 24 : 16,
    style: type === 'timestamp' ? { numFmt: 'yyyy-mm-dd hh:mm:ss.000' } : undefined,
  }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  const rows = db.startsWith('sqlite:') ? sqliteRows(db) : postgresRows(db);
  for await (const row of rows) sheet.addRow(row).commit();
  sheet.commit();
  await workbook.commit();
}

main().catch((error) => {
  process.stderr.write(`xlsx-exceljs: ${error?.stack ?? error}\n`);
  process.exit(1);
});
