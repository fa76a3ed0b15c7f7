import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch, Columns, SheetEncoding, TextEncoding } from '../../src/core/types.ts';
import { openDatabase } from '../../src/db/open.ts';
import type { PostgresCopyReader } from '../../src/db/postgres-copy-reader.ts';
import type { PostgresDatabase } from '../../src/db/postgres.ts';
import { type SelectSpec, buildCopy, buildSelect, buildSheetCopy } from '../../src/db/select.ts';
import { SheetDataEncoder, SheetDataParser, SheetPieces } from '../../src/format/xlsx-sheet-data.ts';
import { SHEET_STYLES } from '../../src/format/xlsx-sheet-xml.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { type SheetSummary, sheetSummary } from '../support/xlsx.ts';

const pgOk = await postgresAvailable();

const TEXTS = ['', null, 'plain', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rhere', 'tab\there', '\tstarts with tab', '\rstarts with CR', '=SUM(A1)', '@cmd', '+1 (555) 010-9999', '-42', '+', '-', '-abc', 'back\\slash', '\\.', '\b\f\v', 'É unicode ✓ 🎉', 'line\u2028separator', '  spaced  ', '"', ','];
const TIMES = [
  'infinity',
  '-infinity',
  '0044-03-15 12:00:00.5 BC',
  '0001-12-31 23:59:59 BC',
  '12345-06-07 08:09:10.123',
  '0001-01-01 00:00:00',
  '1999-12-31 23:59:59.9995',
  '1969-12-31 23:59:59.0015',
  '2000-02-29 12:00:00.999999',
  '1900-02-28 23:59:59',
  '294276-12-31 23:59:59.999999',
  '4713-01-01 00:00:00 BC',
  '2026-03-29 02:30:00', // a time the session's zone skips (spring forward)
  null,
];
const NUMBERS = [null, '0', '-1', '32767', '-32768'];
const BIG = ['-9223372036854775808', '9223372036854775807', '9007199254740993', null];
const AMOUNTS = ['12345678901234567890.5', '-0.000001', '0', null];

const COLUMNS: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'label', type: 'text' },
  { name: 'note', type: 'text' },
  { name: 'small', type: 'integer' },
  { name: 'big', type: 'integer' },
  { name: 'amount', type: 'integer' },
  { name: 'at', type: 'timestamp' },
  { name: 'local', type: 'timestamp' },
];
const SPEC: SelectSpec = { table: 'things', columns: COLUMNS, orderBy: 'id' };

const ENCODINGS: TextEncoding[] = [
  { format: 'csv', header: true, escapeFormulas: true, preamble: '' },
  { format: 'csv', header: false, escapeFormulas: false, preamble: '' },
  { format: 'text', header: true, escapeFormulas: true, preamble: '' },
  { format: 'text', header: false, escapeFormulas: false, preamble: '' },
];

describe.skipIf(!pgOk)('PostgreSQL exports read as binary COPY', () => {
  let scratch: ScratchDatabase;
  let db: PostgresDatabase;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    // Not UTC: sluice's sessions set UTC, and both COPYs must print the same whatever the database's zone.
    await adminQuery(`ALTER DATABASE ${scratch.name} SET timezone = 'Europe/Berlin'`);
    db = openDatabase(scratch.url) as PostgresDatabase;
    await db.query({
      text: 'CREATE TABLE things (id bigint PRIMARY KEY, label text, note varchar(40), small int2, big int8, amount numeric, at timestamptz, local timestamp, flag boolean, code char(4))',
      values: [],
    });
    const rows = Math.max(TEXTS.length, TIMES.length) * 3;
    for (let i = 0; i < rows; i++) {
      const pick = <T,>(list: readonly T[], shift = 0) => list[(i + shift) % list.length]!;
      await db.query({
        text: 'INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        values: [i * 7 - 50, pick(TEXTS), pick(TEXTS, 5)?.slice(0, 40) ?? null, pick(NUMBERS), pick(BIG), pick(AMOUNTS), pick(TIMES), pick(TIMES, 3), i % 3 === 0 ? null : String(i % 2 === 0), pick(['ab', null, 'abcd'])],
      });
    }
  });

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  /** What the reader writes for `spec`, and which COPY the server sent. */
  async function read(spec: SelectSpec, encoding: TextEncoding, binary: boolean): Promise<{ text: string; format: string | undefined; rows: number | undefined }> {
    const query = buildCopy(spec, {}, encoding);
    const reader = db.copyOut(binary ? query : { text: query.text, settings: query.settings }) as PostgresCopyReader;
    const chunks: Buffer[] = [];
    for await (const chunk of reader) chunks.push(chunk as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8'), format: reader.copyFormat, rows: reader.rowCount };
  }

  it.each(ENCODINGS)('writes the text COPY’s bytes for awkward values of every column type it reads: %o', async (encoding) => {
    const text = await read(SPEC, encoding, false);
    const binary = await read(SPEC, encoding, true);
    expect(text.format).toBe('text');
    expect(binary.format).toBe('binary');
    expect(binary.rows).toBe(text.rows);
    expect(binary.text).toBe(text.text);
    // Not vacuous: the awkward cases are there.
    expect(text.text).toContain('0044-03-15T');
    expect(text.text).toContain('12345-06-07T');
  });

  it('writes one column as TXT (text format) and as single-column CSV', async () => {
    const one: SelectSpec = { ...SPEC, columns: [{ name: 'label', type: 'text' }] };
    for (const format of ['csv', 'text'] as const) {
      const encoding: TextEncoding = { format, header: false, escapeFormulas: true, preamble: '' };
      const binary = await read(one, encoding, true);
      expect(binary.format).toBe('binary');
      expect(binary.text).toBe((await read(one, encoding, false)).text);
    }
  });

  it('lets the server write the text when the database is opened with copyEncoding: server (sluice serve)', async () => {
    const serverSide = openDatabase(scratch.url, { copyEncoding: 'server' }) as PostgresDatabase;
    try {
      const encoding = ENCODINGS[0]!;
      const reader = serverSide.copyOut(buildCopy(SPEC, {}, encoding)) as PostgresCopyReader;
      const chunks: Buffer[] = [];
      for await (const chunk of reader) chunks.push(chunk as Buffer);
      expect(reader.copyFormat).toBe('text');
      expect(Buffer.concat(chunks).toString('utf8')).toBe((await read(SPEC, encoding, true)).text);
    } finally {
      await serverSide.close();
    }
  });

  it('leaves columns of other types to the text COPY (a boolean as t/f, char(n) padded)', async () => {
    for (const column of ['flag', 'code']) {
      const spec: SelectSpec = { ...SPEC, columns: [...COLUMNS, { name: column, type: 'text' }] };
      const encoding: TextEncoding = { format: 'csv', header: true, escapeFormulas: false, preamble: '' };
      const binary = await read(spec, encoding, true);
      expect(binary.format).toBe('text');
      expect(binary.text).toBe((await read(spec, encoding, false)).text);
    }
  });

  const SHEET: SheetEncoding = { format: 'xlsx-sheet', maxRowsPerSheet: 40, styles: SHEET_STYLES, firstRow: 0 };

  /** A sheet's rows as the row path writes them: the cursor's batches through SheetDataEncoder. */
  async function sheetByRows(spec: SelectSpec, batchSize: number): Promise<SheetSummary> {
    const encoder = new SheetDataEncoder(spec.columns, { maxRowsPerSheet: SHEET.maxRowsPerSheet, styles: SHEET.styles });
    const pieces = new SheetPieces();
    for await (const batch of db.streamBatches(buildSelect('postgres', spec, {}), { batchSize })) encoder.encode(batch as Batch, pieces);
    return sheetSummary(pieces.take());
  }

  it('writes the row path’s sheet rows (XLSX) from binary COPY: numbers, dates, text, widths, sheets and warnings', async () => {
    const reader = await db.copyOutSheet(buildSheetCopy(SPEC, {}, SHEET, 7));
    expect(reader).toBeDefined();
    const parser = new SheetDataParser();
    const pieces = [];
    for await (const chunk of reader!) pieces.push(...parser.push(chunk as Buffer));
    expect((reader as PostgresCopyReader).copyFormat).toBe('binary');
    const expected = await sheetByRows(SPEC, 7);
    expect(sheetSummary(pieces)).toEqual(expected);
    // Not vacuous: several sheets, dates, numbers and text of every kind are there.
    expect(expected.xml.length).toBeGreaterThan(1);
    expect(expected.xml.join('')).toContain('s="2"><v>36585.5000115625</v>');
    expect(expected.xml.join('')).toContain('<t>12345678901234567890.5</t>');
    expect(expected.xml.join('')).toContain('<t>12345-06-07T08:09:10.123Z</t>');
  });

  it('leaves a sheet to the row path where binary COPY cannot stand in: other column types, copyEncoding: server', async () => {
    const spec: SelectSpec = { ...SPEC, columns: [...COLUMNS, { name: 'flag', type: 'text' }] };
    expect(await db.copyOutSheet(buildSheetCopy(spec, {}, SHEET, 7))).toBeUndefined();
    const serverSide = openDatabase(scratch.url, { copyEncoding: 'server' }) as PostgresDatabase;
    try {
      expect(await serverSide.copyOutSheet(buildSheetCopy(SPEC, {}, SHEET, 7))).toBeUndefined();
    } finally {
      await serverSide.close();
    }
  });
});
