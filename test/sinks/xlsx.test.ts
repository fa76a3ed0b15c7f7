import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../src/core/define.ts';
import { isSluiceError } from '../../src/core/errors.ts';
import { runPipeline } from '../../src/index.ts';
import type { Row, SourceSpec, TransformSpec } from '../../src/core/types.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { xlsxSink } from '../../src/sinks/xlsx.ts';
import { demoTicket } from '../../raffle/demo-tickets.ts';
import { sqlSelect } from '../../src/sources/sql-select.ts';
import { createScratchDatabase, postgresAvailable, type ScratchDatabase } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, seedTickets } from '../support/tickets.ts';
import { type RawCell, type RawWorkbook, decodeXml, decodeXstring, readXlsx, unzip } from '../support/xlsx.ts';

const dir = scratchDir('sluice-xlsx-');
afterAll(() => dir.remove());

const LONG = `${'Lorem ipsum '.repeat(3500)}END`; // 42,003 characters
const EMOJI_AT_LIMIT = `${'e'.repeat(32_766)}🎟️ after`; // the limit falls inside the emoji's surrogate pair

/** Awkward values the shared fixture lacks: over-long text, XML-illegal characters, emoji, Excel escapes. */
function extraTickets(withNul: boolean): Row[] {
  // PostgreSQL text cannot hold NUL at all; SQLite can.
  const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).filter((c) => withNul || c !== '\u0000').join('');
  const ts = '2026-01-07T08:09:10.011Z';
  return [
    [7, 'T-0007', '00000007', 'standard', 500, 'sold', LONG, `ctl${controls}end`, '_x000D_', 'emoji 🎉👩‍👩‍👧 ok', ts, ts, ts],
    [8, 'T-0008', '00000008', 'vip', 2500, 'sold', EMOJI_AT_LIMIT, '=1+1', 'bad\uFFFFchar', '\r\n', ts, ts, ts],
    [9, 'T-0009', '+0009', 'vip', -1, 'void', '', ' ', '007', 'https://example.com', '1901-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', ts],
  ];
}

/** What a text cell must read back as, per Excel's rules, computed without the code under test. */
function expectedText(value: string): string {
  let text = value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
  if (text.length > 32_767) text = text.slice(0, 32_767);
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? text.slice(0, -1) : text;
}

const EXCEL_EPOCH_MS = Date.UTC(1899, 11, 30);
const LETTERS = 'ABCDEFGHIJKLM';

/** Compares every cell of a sheet's data rows with the table, raw types included. */
function expectCells(book: RawWorkbook, rows: readonly Row[]): void {
  const [sheet] = book.sheets;
  expect(sheet!.rows).toHaveLength(rows.length + 1);
  rows.forEach((row, r) => {
    const number = r + 2;
    const raw = sheet!.rows[r + 1]!;
    expect(raw.number).toBe(number);
    const byRef = new Map(raw.cells.map((c) => [c.ref, c]));
    TICKET_COLUMNS.forEach((column, i) => {
      const value = row[i];
      const cell = byRef.get(`${LETTERS[i]}${number}`);
      const where = `${column.name} of ticket ${row[0]}`;
      if (value === null) return expect(cell, where).toBeUndefined();
      expect(cell, where).toBeDefined();
      expectCell(cell!, column.type, value!, book, where);
    });
    expect(raw.cells).toHaveLength(row.filter((v) => v !== null).length);
  });
}

function expectCell(cell: RawCell, type: string, value: NonNullable<Row[number]>, book: RawWorkbook, where: string): void {
  if (type === 'integer') {
    expect([cell.type, Number(cell.value)], where).toEqual([undefined, Number(value)]);
  } else if (type === 'timestamp') {
    expect(cell.type, where).toBeUndefined();
    expect(book.numFmts[cell.style], where).toMatch(/yyyy-mm-dd hh:mm:ss/);
    expect(Math.round(Number(cell.value) * 86_400_000 + EXCEL_EPOCH_MS), where).toBe(Date.parse(value as string));
  } else {
    expect([cell.type, cell.value], where).toEqual(['inlineStr', expectedText(value as string)]);
    if (/^\s|\s$/.test(cell.value)) expect(cell.preserve, where).toBe(true);
  }
}

function exportPipeline(overrides: { maxRowsPerSheet?: number; transforms?: TransformSpec[] } = {}) {
  return definePipeline({
    name: 'xlsx-test',
    description: 'Tickets as XLSX (test)',
    params: {},
    source: sqlSelect({ summary: 'tickets', table: 'tickets', columns: TICKET_COLUMNS, orderBy: 'id' }),
    transforms: overrides.transforms ?? [],
    sink: xlsxSink({ sheetName: 'Tickets', maxRowsPerSheet: overrides.maxRowsPerSheet }),
  });
}

const seeded = seedTickets;

function demoRows(count: number): Row[] {
  return Array.from({ length: count }, (_, i) => demoTicket(i + 1, false));
}

const pgOk = await postgresAvailable();

const engines: Array<{ name: string; enabled: boolean; withNul: boolean; url: () => Promise<string>; cleanup: () => Promise<void> }> = [];
let sqliteCount = 0;
engines.push({ name: 'SQLite', enabled: true, withNul: true, url: async () => `sqlite:${dir.file(`t${++sqliteCount}.db`)}`, cleanup: async () => {} });
const scratches: ScratchDatabase[] = [];
engines.push({
  name: 'PostgreSQL',
  enabled: pgOk,
  withNul: false,
  url: async () => {
    const scratch = await createScratchDatabase();
    scratches.push(scratch);
    return scratch.url;
  },
  cleanup: async () => {
    for (const scratch of scratches.splice(0)) await scratch.drop();
  },
});

for (const engine of engines) {
  describe.skipIf(!engine.enabled)(`sink.xlsx from ${engine.name}`, () => {
    const table = [...AWKWARD_TICKETS, ...extraTickets(engine.withNul)];
    let url = '';
    beforeAll(async () => {
      url = await engine.url();
      await seeded(url, table);
    });
    afterAll(() => engine.cleanup());

    it('writes every awkward value as a typed cell that reads back exactly', async () => {
      const path = dir.file(`awkward-${engine.name}.xlsx`);
      const logs: Array<Record<string, unknown>> = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
      const summary = await runPipeline(exportPipeline(), { database: url, output: fileOutput(path), logger });
      expect(summary.rows).toBe(table.length);
      // LONG and EMOJI_AT_LIMIT were cut; the control characters and U+FFFF were dropped.
      expect(summary.warnings).toEqual({ truncatedCells: 2, strippedCells: 2 });
      expect(logs.filter((l) => /truncated/.test(String(l.msg))).map((l) => [l.sheet, l.row, l.column, l.length])).toEqual([
        ['Tickets', 8, 'buyer_name', LONG.length],
        ['Tickets', 9, 'buyer_name', EMOJI_AT_LIMIT.length],
      ]);

      const book = readXlsx(path);
      expect(book.sheets.map((s) => s.name)).toEqual(['Tickets']);
      const [sheet] = book.sheets;
      expect(sheet!.xml).not.toContain('\r'); // an XML parser would turn it into LF
      expect(sheet!.xml).not.toMatch(/<f>|t="str"|t="s"|<hyperlink/);
      expect(book.files.has('xl/sharedStrings.xml')).toBe(false);
      const header = sheet!.rows[0]!;
      expect(header.cells.map((c) => [c.type, c.value, book.bold[c.style]])).toEqual(TICKET_COLUMNS.map((c) => ['inlineStr', c.name, true]));
      expectCells(book, table);
    });

    it('reads back the same values through exceljs', async () => {
      const path = dir.file(`exceljs-${engine.name}.xlsx`);
      await runPipeline(exportPipeline(), { database: url, output: fileOutput(path) });
      const excel = new ExcelJS.Workbook();
      await excel.xlsx.load(readFileSync(path) as unknown as ArrayBuffer);
      const ws = excel.getWorksheet('Tickets')!;
      expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
      table.forEach((row, r) => {
        TICKET_COLUMNS.forEach((column, i) => {
          const value = row[i];
          const cell = ws.getCell(r + 2, i + 1).value;
          if (value === null) expect(cell).toBeNull();
          else if (column.type === 'integer') expect(cell).toBe(value);
          else if (column.type === 'timestamp') expect(cell).toEqual(new Date(value as string));
          // exceljs's reader leaves ECMA-376 `_xHHHH_` escapes in inline strings undecoded (Excel
          // decodes them), and reads an empty inline string as an empty cell (the raw check above sees '').
          else expect(decodeXstring((cell ?? '') as string), `${column.name} of ticket ${row[0]}`).toBe(expectedText(value as string));
        });
      });
    });

    it('rolls over to a new sheet at the limit: header on each, no row lost or repeated', async () => {
      const rolloverUrl = await engine.url();
      await seeded(rolloverUrl, demoRows(23));
      const path = dir.file(`rollover-${engine.name}.xlsx`);
      // 5 rows per sheet = header + 4 tickets; batches of 3 straddle every sheet boundary.
      const summary = await runPipeline(exportPipeline({ maxRowsPerSheet: 5 }), { database: rolloverUrl, output: fileOutput(path), params: { batchSize: 3 } });
      expect(summary.rows).toBe(23);
      const book = readXlsx(path);
      expect(book.sheets.map((s) => s.name)).toEqual(['Tickets', 'Tickets (2)', 'Tickets (3)', 'Tickets (4)', 'Tickets (5)', 'Tickets (6)']);
      const ids: number[] = [];
      for (const sheet of book.sheets) {
        expect(sheet.rows.length).toBeLessThanOrEqual(5);
        expect(sheet.rows.map((r) => r.number)).toEqual(sheet.rows.map((_, i) => i + 1));
        expect(sheet.rows[0]!.cells.map((c) => [c.value, book.bold[c.style]])).toEqual(TICKET_COLUMNS.map((c) => [c.name, true]));
        expect(sheet.xml).toContain('state="frozen"');
        expect(sheet.xml).toContain('<autoFilter ref="A1:M1"/>');
        for (const row of sheet.rows.slice(1)) ids.push(Number(row.cells[0]!.value));
      }
      expect(ids).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
      expect(book.sheets.map((s) => s.rows.length - 1)).toEqual([4, 4, 4, 4, 4, 3]);
    });

    it('adds no empty sheet when the rows exactly fill the last one', async () => {
      const exactUrl = await engine.url();
      await seeded(exactUrl, demoRows(8));
      const path = dir.file(`exact-${engine.name}.xlsx`);
      await runPipeline(exportPipeline({ maxRowsPerSheet: 5 }), { database: exactUrl, output: fileOutput(path), params: { batchSize: 4 } });
      expect(readXlsx(path).sheets.map((s) => [s.name, s.rows.length])).toEqual([
        ['Tickets', 5],
        ['Tickets (2)', 5],
      ]);
    });
  });
}

describe('sink.xlsx failure and abort', () => {
  let url = '';
  beforeAll(async () => {
    url = `sqlite:${dir.file('fail.db')}`;
    await seeded(url, demoRows(50));
  });

  function failingAt(batch: number, act: () => void): TransformSpec {
    return {
      kind: 'transform.test-fault',
      summary: 'fails mid-run',
      open: () => {
        let seen = 0;
        return (rows) => {
          if (++seen === batch) act();
          return rows;
        };
      },
    };
  }

  function leftovers(name: string): string[] {
    return readdirSync(dir.path).filter((f) => f.startsWith(name));
  }

  it('leaves no file, not even a part file, when the run fails midway', async () => {
    const path = dir.file('failed.xlsx');
    const pipeline = exportPipeline({ transforms: [failingAt(3, () => { throw new Error('boom'); })] });
    await expect(runPipeline(pipeline, { database: url, output: fileOutput(path), params: { batchSize: 5 } })).rejects.toThrow('boom');
    expect(existsSync(path)).toBe(false);
    expect(leftovers('failed.xlsx')).toEqual([]);
  });

  it('leaves no file when aborted midway', async () => {
    const path = dir.file('aborted.xlsx');
    const controller = new AbortController();
    const pipeline = exportPipeline({ transforms: [failingAt(3, () => controller.abort())] });
    const run = runPipeline(pipeline, { database: url, output: fileOutput(path), params: { batchSize: 5 }, signal: controller.signal });
    await expect(run).rejects.toSatisfy((error) => isSluiceError(error, 'ABORTED'));
    expect(leftovers('aborted.xlsx')).toEqual([]);
  });

  it('writes a header-only workbook for an empty result', async () => {
    const emptyUrl = `sqlite:${dir.file('empty.db')}`;
    await seeded(emptyUrl, []);
    const path = dir.file('empty.xlsx');
    const summary = await runPipeline(exportPipeline(), { database: emptyUrl, output: fileOutput(path) });
    expect(summary.rows).toBe(0);
    const book = readXlsx(path);
    expect(book.sheets.map((s) => [s.name, s.rows.map((r) => r.cells.length)])).toEqual([['Tickets', [13]]]);
  });
});

describe('sink.xlsx definition', () => {
  it('refuses a sheet size Excel cannot hold when the sink is defined, before any run', () => {
    for (const bad of [1, 1_048_577]) expect(() => xlsxSink({ maxRowsPerSheet: bad })).toThrow(/A sheet holds 2 to 1048576 rows/);
  });
});

describe('sink.xlsx from a source that encodes text only', () => {
  it('never asks it for sheet rows: the rows take the row path', async () => {
    const asked: string[] = [];
    const source: SourceSpec = {
      ...countingSource(10, 4),
      // A source of its own that writes CSV or text at the source, and knows nothing of sheets.
      openEncoded: async (_ctx, encoding) => {
        asked.push(encoding.format);
        return undefined;
      },
    };
    const pipeline = definePipeline({ name: 'xlsx-text-source', description: 'test', params: {}, source, transforms: [], sink: xlsxSink({ sheetName: 'Numbers' }) });
    const path = dir.file('text-source.xlsx');
    const summary = await runPipeline(pipeline, { database: `sqlite:${dir.file('unused.db')}`, output: fileOutput(path) });
    expect(summary.rows).toBe(10);
    expect(asked).toEqual([]);
    expect(rowNumbers(readXlsx(path).sheets[0]!.xml)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });
});

/** `count` rows of one integer column `n` (1, 2, 3, ...), made in memory: no database to fill. */
function countingSource(count: number, batchSize: number): SourceSpec {
  return {
    kind: 'source.test-counting',
    summary: `the numbers 1 to ${count}`,
    columns: [{ name: 'n', type: 'integer' }],
    open: () => {
      let next = 1;
      return new Readable({
        objectMode: true,
        highWaterMark: 1,
        read() {
          if (next > count) return void this.push(null);
          const batch: Row[] = [];
          for (const stop = Math.min(count, next + batchSize - 1); next <= stop; next++) batch.push([next]);
          this.push(batch);
        },
      });
    },
  };
}

/** The `r` attribute of every `<row>` of a worksheet's XML, scanned without a regular expression over megabytes. */
function rowNumbers(xml: string): number[] {
  const numbers: number[] = [];
  for (let at = xml.indexOf('<row r="'); at >= 0; at = xml.indexOf('<row r="', at + 1)) {
    numbers.push(Number(xml.slice(at + 8, xml.indexOf('"', at + 8))));
  }
  return numbers;
}

describe('sink.xlsx default sheet size', () => {
  it("fills the first sheet to Excel's last row, 1,048,576 (header included), before starting the next", async () => {
    const EXCEL_ROWS = 1_048_576;
    // One data row more than a full sheet holds: it alone goes to the second sheet.
    const count = EXCEL_ROWS;
    const path = dir.file('full-sheet.xlsx');
    const pipeline = definePipeline({
      name: 'xlsx-full-sheet',
      description: 'A full sheet and one row more (test)',
      params: {},
      source: countingSource(count, 50_000),
      transforms: [],
      sink: xlsxSink(), // no maxRowsPerSheet: the default is under test
    });
    // The run never opens the database: the source is in memory.
    const summary = await runPipeline(pipeline, { database: `sqlite:${dir.file('unused.db')}`, output: fileOutput(path) });
    expect(summary.rows).toBe(count);

    const files = unzip(readFileSync(path));
    const workbook = files.get('xl/workbook.xml')!.toString('utf8');
    expect([...workbook.matchAll(/<sheet [^>]*name="([^"]*)"/g)].map((m) => decodeXml(m[1]!))).toEqual(['Sheet1', 'Sheet1 (2)']) // the default name is Excel's own;
    const sheets = [...files.keys()].filter((name) => /^xl\/worksheets\/sheet\d+\.xml$/.test(name)).sort();
    expect(sheets).toHaveLength(2);
    const first = files.get(sheets[0]!)!.toString('utf8');
    const firstRows = rowNumbers(first);
    expect(firstRows.length).toBe(EXCEL_ROWS);
    expect(firstRows[firstRows.length - 1]).toBe(EXCEL_ROWS);
    // Its last row holds ticket 1,048,575: header + 1,048,575 data rows.
    expect(first.slice(first.lastIndexOf('<row ')).match(/<v>(\d+)<\/v>/)?.[1]).toBe(String(EXCEL_ROWS - 1));
    // The second sheet: its header and the one remaining row.
    const second = files.get(sheets[1]!)!.toString('utf8');
    expect(rowNumbers(second)).toEqual([1, 2]);
    expect([...second.matchAll(/<c r="([A-Z]+\d+)"[^>]*>(?:<is><t>([^<]*)<\/t><\/is>|<v>([^<]*)<\/v>)<\/c>/g)].map((m) => [m[1], m[2] ?? m[3]])).toEqual([
      ['A1', 'n'],
      ['A2', String(EXCEL_ROWS)],
    ]);
  });
});
