import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../src/core/types.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { exportTo } from '../support/run.ts';
import { scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, seedTickets } from '../support/tickets.ts';
import { readXlsx } from '../support/xlsx.ts';

/** Ids a double cannot hold exactly, and the edges around 2^53, in both directions. */
const IDS = [9007199254740991n, 9007199254740992n, 9007199254740993n, 9223372036854775807n, -9223372036854775808n, -9007199254740993n];
const TICKETS: Row[] = IDS.map((id, i) => [id, ...AWKWARD_TICKETS[i]!.slice(1)]);

const pgOk = await postgresAvailable();
const dir = scratchDir();
let pgDb: ScratchDatabase | undefined;
const sqliteUrl = `sqlite:${dir.file('big.db')}`;

beforeAll(async () => {
  await seedTickets(sqliteUrl, TICKETS);
  if (pgOk) {
    pgDb = await createScratchDatabase();
    await seedTickets(pgDb.url, TICKETS);
  }
});

afterAll(async () => {
  await pgDb?.drop();
  dir.remove();
});

/** The ids column of a CSV or TSV export (TSV escapes line breaks; CSV quotes them), as text. */
function firstColumn(text: string, format: 'csv' | 'tsv'): string[] {
  const rows = format === 'csv' ? (parse(text) as string[][]) : text.trimEnd().split('\n').map((line) => line.split('\t'));
  return rows.slice(1).map((row) => row[0]!);
}

const sorted = [...IDS].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);

describe('64-bit integers', () => {
  it('leave SQLite exactly as stored, in CSV, TSV and XLSX', async () => {
    const csv = await exportTo('export-csv', sqliteUrl, dir.file('sqlite.csv'));
    expect(firstColumn(csv.text, 'csv')).toEqual(sorted);
    const tsv = await exportTo('export-all-tickets', sqliteUrl, dir.file('sqlite.tsv'));
    expect(firstColumn(tsv.text, 'tsv')).toEqual(sorted);
    await exportTo('export-xlsx', sqliteUrl, dir.file('sqlite.xlsx'));
    const sheet = readXlsx(dir.file('sqlite.xlsx')).sheets[0]!;
    // A cell holds a double: an id a double cannot hold is written as its exact digits, as text.
    expect(sheet.rows.slice(1).map((row) => row.cells[0]!.value)).toEqual(sorted);
    expect(sheet.rows.slice(1).map((row) => row.cells[0]!.type)).toEqual(sorted.map((id) => (Number.isSafeInteger(Number(id)) ? undefined : 'inlineStr')));
  });

  it.skipIf(!pgOk).each([
    ['export-csv', 'csv'],
    ['export-all-tickets', 'tsv'],
    ['export-xlsx', 'xlsx'],
  ])('give the same bytes from PostgreSQL as from SQLite: %s', async (name, extension) => {
    const fromSqlite = await exportTo(name, sqliteUrl, dir.file(`s-${name}.${extension}`));
    const fromPostgres = await exportTo(name, pgDb!.url, dir.file(`p-${name}.${extension}`));
    if (extension === 'xlsx') {
      const cells = (path: string) => readXlsx(path).sheets[0]!.rows.map((row) => row.cells.map((c) => [c.type, c.value]));
      expect(cells(dir.file(`p-${name}.${extension}`))).toEqual(cells(dir.file(`s-${name}.${extension}`)));
    } else {
      expect(fromPostgres.text).toBe(fromSqlite.text);
    }
  });
});
