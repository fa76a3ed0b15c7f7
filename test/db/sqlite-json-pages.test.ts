import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Columns, Row, TextEncoding } from '../../src/core/types.ts';
import { buildPagedSelect, buildSelect, type SelectSpec } from '../../src/db/select.ts';
import { runPipeline } from '../../src/index.ts';
import { definePipeline } from '../../src/core/define.ts';
import { csvSink } from '../../src/sinks/csv.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { tsvSink } from '../../src/sinks/tsv.ts';
import { sqlSelect } from '../../src/sources/sql-select.ts';
import { openReader } from '../../src/db/sqlite-connection.ts';
import { exactIntegers } from '../../src/db/sqlite-integers.ts';
import { JsonPages } from '../../src/db/sqlite-json-pages.ts';
import { JsonRowsTranscoder } from '../../src/format/json-rows.ts';
import { batchEncoder } from '../../src/format/text-encoding.ts';
import { scratchDir } from '../support/sqlite.ts';

const scratch = scratchDir();
afterAll(() => scratch.remove());

/** Text that every encoder treats differently somewhere: quoting, escapes, formulas, NUL, unicode. */
const TEXTS: (string | null)[] = [
  null, '', 'plain', 'a,b', 'quo"te', 'line\nbreak', 'cr\rx', '\rlead', 'tab\tx', '\tlead', 'back\\slash', '\b\f\v', '=1+1', '@x',
  '+', '-', '+1 (555) 010-9999', '+15551234567', '+1a', '-12.5', '-1e5', '+.5', "'quoted", 'Zoë Ünïcødé 🎟️ 日本', 'sep\u2028ara\u2029tor',
  'nul\u0000inside', '\\.', '  padded  ', ',', '"', 'x\u007fy',
];

/** An integer column holds whatever SQLite let in: big and negative integers, reals, text, a BLOB. */
const NUMBERS = ['0', '-1', '9007199254740993', '-9223372036854775808', '9223372036854775807', '0.1 + 0.2', '1e21', '1.5', '-0.0', '1e-7', "'abc'", "''", "'=1'", "'-5'", "x'2c41'", 'NULL'];

const TIMES = ["'2026-01-01T00:00:07.000Z'", "'2026-01-01 10:00:00'", "'not a date'", 'NULL', "x'41'"];

const COLUMNS: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'n', type: 'integer' },
  { name: 't', type: 'text' },
  { name: 'ts', type: 'timestamp' },
];

function createThings(path: string): void {
  const db = new BetterSqlite3(path);
  // WAL: a parallel export's readers share one snapshot only there.
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, n INTEGER, t TEXT, ts TEXT, loose)');
  const insert = db.prepare('INSERT INTO things (id, t) VALUES (?, ?)');
  let id = 0;
  for (const text of TEXTS) insert.run(++id, text);
  // Values that can only be written as SQL: reals, BLOBs, text that is not UTF-8.
  for (const number of NUMBERS) db.exec(`INSERT INTO things (id, n, t) VALUES (${++id}, ${number}, 'n')`);
  for (const time of TIMES) db.exec(`INSERT INTO things (id, ts) VALUES (${++id}, ${time})`);
  db.exec(`INSERT INTO things (id, t) VALUES (${++id}, x'2c41')`);
  // Text that is not UTF-8, which JavaScript strings cannot hold, after two rows that are.
  db.exec("CREATE TABLE raw_things (id INTEGER PRIMARY KEY, n INTEGER, t TEXT, ts TEXT)");
  db.exec("INSERT INTO raw_things (id, t) VALUES (1, 'a'), (2, 'b'), (3, CAST(x'ff41' AS TEXT)), (4, CAST(x'41c3' AS TEXT)), (5, x'ff41')");
  db.close();
}

const path = scratch.file('things.db');
createThings(path);
const SPEC: SelectSpec = { table: 'things', columns: COLUMNS, orderBy: 'id' };

const ENCODINGS: Record<string, TextEncoding> = {
  csv: { format: 'csv', header: true, escapeFormulas: true, preamble: '' },
  'csv, no formula escape': { format: 'csv', header: false, escapeFormulas: false, preamble: '' },
  tsv: { format: 'text', header: true, escapeFormulas: true, preamble: '' },
};

/** Runs `use` on a reader connection to the test file, closed afterwards. */
function withReader<T>(use: (connection: BetterSqlite3.Database) => T): T {
  const connection = openReader(path);
  try {
    return use(connection);
  } finally {
    connection.close();
  }
}

/** A database file made by `sql` (with `setup` on its connection first), read through `use`. */
function withDatabaseOf<T>(name: string, sql: string, use: (connection: BetterSqlite3.Database) => T, setup?: (db: BetterSqlite3.Database) => void): T {
  const file = scratch.file(name);
  const db = new BetterSqlite3(file);
  setup?.(db);
  db.exec(sql);
  db.close();
  const connection = openReader(file);
  try {
    return use(connection);
  } finally {
    connection.close();
  }
}

/** The row count of each page. */
function pageRows(pages: JsonPages): number[] {
  const counts: number[] = [];
  for (let page = pages.next(); page; page = pages.next()) counts.push(page.rows);
  return counts;
}

/** What the row path writes: every value made a JavaScript value, then encoded. */
function viaRows(connection: BetterSqlite3.Database, spec: SelectSpec, encoding: TextEncoding): Buffer {
  const query = buildSelect('sqlite', spec, {});
  const rows = (connection.prepare(query.text).raw(true).safeIntegers(true).all(...query.values) as Row[]).map(exactIntegers);
  const encoder = batchEncoder(encoding, spec.columns);
  return Buffer.from(encoder.header + encoder.encode(rows));
}

/** What the JSON pages write, and how many pages had to be read as values. */
function viaPages(connection: BetterSqlite3.Database, spec: SelectSpec, encoding: TextEncoding, pageRows: number): { bytes: Buffer; valuePages: number } {
  const pages = JsonPages.open(connection, buildPagedSelect(spec, {}), pageRows);
  if (!pages) throw new Error('no JSON pages for this table');
  const transcoder = new JsonRowsTranscoder(spec.columns, encoding);
  const encoder = batchEncoder(encoding, spec.columns);
  const parts = [Buffer.from(encoder.header)];
  let valuePages = 0;
  for (let page = pages.next(); page; page = pages.next()) {
    if ('json' in page) parts.push(Buffer.from(transcoder.transcode(page.json)));
    else {
      valuePages++;
      parts.push(Buffer.from(encoder.encode(page.values.map(exactIntegers))));
    }
  }
  return { bytes: Buffer.concat(parts), valuePages };
}

describe('SQLite JSON pages', () => {
  for (const [name, encoding] of Object.entries(ENCODINGS)) {
    for (const size of [1, 7, 1000]) {
      it(`write the row path's bytes: ${name}, pages of ${size}`, () => {
        withReader((connection) => {
          const expected = viaRows(connection, SPEC, encoding);
          const { bytes, valuePages } = viaPages(connection, SPEC, encoding, size);
          expect(bytes.toString('latin1')).toBe(expected.toString('latin1'));
          expect(valuePages).toBe(0);
        });
      });
    }
  }

  it('write TXT (one text column) as the row path does', () => {
    withReader((connection) => {
      const spec: SelectSpec = { ...SPEC, columns: [{ name: 't', type: 'text' }] };
      const txt: TextEncoding = { format: 'text', header: false, escapeFormulas: true, preamble: '' };
      expect(viaPages(connection, spec, txt, 5).bytes.toString('latin1')).toBe(viaRows(connection, spec, txt).toString('latin1'));
      const csv: TextEncoding = { format: 'csv', header: false, escapeFormulas: true, preamble: '' };
      expect(viaPages(connection, spec, csv, 5).bytes.toString('latin1')).toBe(viaRows(connection, spec, csv).toString('latin1'));
    });
  });

  it('read the pages that are not UTF-8 as values, and only those', () => {
    withReader((connection) => {
      const spec = { ...SPEC, table: 'raw_things' };
      const { bytes, valuePages } = viaPages(connection, spec, ENCODINGS.csv!, 2);
      expect(valuePages).toBe(2);
      expect(bytes.toString('latin1')).toBe(viaRows(connection, spec, ENCODINGS.csv!).toString('latin1'));
      expect(bytes.toString('utf8')).toContain('\uFFFDA');
    });
  });

  it('stop at the limit, in the middle of a page', () => {
    withReader((connection) => {
      const limited = { ...SPEC, limitParam: 'limit' };
      expect(pageRows(JsonPages.open(connection, buildPagedSelect(limited, { limit: 10 }), 4)!)).toEqual([4, 4, 2]);
    });
  });

  it('start after a range lower bound and stop at its upper one', () => {
    withReader((connection) => {
      const plan = buildPagedSelect(SPEC, {}, { key: 'id', keyType: 'integer', after: '3', through: '12' });
      expect(pageRows(JsonPages.open(connection, plan, 4)!)).toEqual([4, 4, 1]);
    });
  });

  it('are refused for a text column without TEXT affinity, whose reals JSON would cast differently', () => {
    withReader((connection) => {
      const spec: SelectSpec = { ...SPEC, columns: [...COLUMNS, { name: 'loose', type: 'text' }] };
      expect(JsonPages.open(connection, buildPagedSelect(spec, {}), 10)).toBeUndefined();
    });
  });

  it('are refused for a UTF-16 database, whose cast text is not UTF-8, and for a key no index orders', () => {
    withDatabaseOf('utf16.db', "CREATE TABLE things (id INTEGER PRIMARY KEY, n INTEGER, t TEXT, ts TEXT, loose, plain INTEGER); INSERT INTO things (id, t, plain) VALUES (1, 'a', 2), (2, 'b', 1)", (connection) => {
      expect(JsonPages.open(connection, buildPagedSelect(SPEC, {}), 10)).toBeUndefined();
    }, (db) => db.pragma("encoding = 'UTF-16le'"));
    withReader((reader) => {
      expect(JsonPages.open(reader, buildPagedSelect(SPEC, {}), 10)).toBeDefined();
      expect(JsonPages.open(reader, buildPagedSelect({ ...SPEC, orderBy: 'n' }, {}), 10)).toBeUndefined();
    });
  });

  it('name the key apart from an exported column called sluice_key', () => {
    const spec: SelectSpec = { table: 't', columns: [{ name: 'id', type: 'integer' }, { name: 'sluice_key', type: 'text' }], orderBy: 'id' };
    withDatabaseOf('named.db', "CREATE TABLE t (id INTEGER PRIMARY KEY, sluice_key TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')", (connection) => {
      const csv = ENCODINGS['csv, no formula escape']!;
      expect(viaPages(connection, spec, csv, 1).bytes.toString()).toBe('1,x\n2,y\n');
    });
  });

  it('fail, rather than stop early, at a NULL in the unique key', () => {
    const spec: SelectSpec = { table: 't', columns: [{ name: 'v', type: 'text' }], orderBy: 'k' };
    withDatabaseOf('nulls.db', "CREATE TABLE t (k TEXT UNIQUE, v TEXT); INSERT INTO t VALUES (NULL, 'a'), (NULL, 'b'), ('c', 'c'), ('d', 'd')", (connection) => {
      const pages = JsonPages.open(connection, buildPagedSelect(spec, {}), 2)!;
      expect(() => pageRows(pages)).toThrow(/holds NULL/);
    });
  });

  it('follow a timestamp key stored in mixed formats in its stored order, as the row path does', () => {
    const spec: SelectSpec = { table: 't', columns: [{ name: 'ts', type: 'timestamp' }, { name: 'v', type: 'text' }], orderBy: 'ts' };
    withDatabaseOf('mixed.db', "CREATE TABLE t (ts TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('2024-01-01 10:00:00', 'ten'), ('2024-01-01T09:00:00.000Z', 'nine'), ('2024-01-01T11:00:00.000Z', 'eleven')", (connection) => {
      const csv = ENCODINGS.csv!;
      const expected = viaRows(connection, spec, csv).toString();
      expect(expected.split('\n').filter(Boolean)).toHaveLength(4);
      expect(viaPages(connection, spec, csv, 1).bytes.toString()).toBe(expected);
    });
  });

  it('keep a stored timestamp that SQLite cannot read as it is, on both paths, rather than an empty field', () => {
    const spec: SelectSpec = { table: 't', columns: [{ name: 'id', type: 'integer' }, { name: 'ts', type: 'timestamp' }], orderBy: 'id' };
    const stored = "('2024-01-01 10:00:00'), ('12345-01-01T00:00:00.000Z'), ('infinity'), ('not a time'), (NULL), (1700000000)";
    withDatabaseOf('odd-times.db', `CREATE TABLE t (id INTEGER PRIMARY KEY, ts TEXT); INSERT INTO t (ts) VALUES ${stored}`, (connection) => {
      const csv = ENCODINGS.csv!;
      const expected = viaRows(connection, spec, csv).toString();
      expect(expected).toBe('id,ts\n1,2024-01-01T10:00:00.000Z\n2,12345-01-01T00:00:00.000Z\n3,infinity\n4,not a time\n5,\n6,1700000000\n');
      expect(viaPages(connection, spec, csv, 2).bytes.toString()).toBe(expected);
    });
  });

  it('keep the row path for a parallel export whose order has duplicates: every row is written', async () => {
    const dupes = scratch.file('dupes.db');
    const db = new BetterSqlite3(dupes);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, cat INTEGER); CREATE INDEX t_cat ON t (cat, id)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
    for (let id = 1; id <= 4000; id++) insert.run(id, id % 7);
    db.close();
    const pipeline = definePipeline({
      name: 'dupes',
      description: 'Rows by a key with duplicates (test)',
      params: {},
      source: sqlSelect({ summary: 'dupes', table: 't', columns: [{ name: 'cat', type: 'integer' }], orderBy: 'cat' }),
      transforms: [],
      sink: csvSink(),
    });
    const out = scratch.file('dupes.csv');
    const summary = await runPipeline(pipeline, { database: `sqlite:${dupes}`, params: {}, output: fileOutput(out), parallel: 2, inDatabase: true });
    expect((summary.notes?.readers as { count: number }).count).toBe(2);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(4001);
  });

  it.each([
    ['CSV', csvSink()],
    ['TSV', tsvSink()],
  ])('are what an export with a unique key reads (%s): one reader or three, the bytes of an export without one', async (_name, sink) => {
    const pipeline = (uniqueOrderBy?: 'integer') =>
      definePipeline({
        name: 'things',
        description: 'Things (test)',
        params: {},
        source: sqlSelect({ summary: 'things', ...SPEC, ...(uniqueOrderBy ? { uniqueOrderBy } : {}) }),
        transforms: [],
        sink,
      });
    const run = async (paged: boolean, parallel: number) => {
      const out = scratch.file(`things-${paged}-${parallel}.out`);
      const summary = await runPipeline(pipeline(paged ? 'integer' : undefined), { database: `sqlite:${path}`, params: {}, output: fileOutput(out), parallel, inDatabase: true });
      expect((summary.notes?.readers as { count: number } | undefined)?.count ?? 1).toBe(parallel);
      return readFileSync(out).toString('latin1');
    };
    const expected = await run(false, 1);
    expect(await run(true, 1)).toBe(expected);
    expect(await run(true, 3)).toBe(expected);
  });
});

