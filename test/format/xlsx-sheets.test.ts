import { describe, expect, it } from 'vitest';
import { EXCEL_MAX_ROWS, columnWidths, planRows, positionAfter, sheetName, validateSheetBaseName } from '../../src/format/xlsx-sheets.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';

describe('sheetName', () => {
  it('numbers continuation sheets from 2 and stays within 31 characters', () => {
    expect([0, 1, 2, 9].map((i) => sheetName('Tickets', i))).toEqual(['Tickets', 'Tickets (2)', 'Tickets (3)', 'Tickets (10)']);
    const long = 'x'.repeat(40);
    expect(sheetName(long, 0)).toHaveLength(31);
    expect(sheetName(long, 11)).toBe(`${'x'.repeat(26)} (12)`);
  });

  it('rejects names Excel refuses', () => {
    for (const bad of ['', '  ', 'a/b', 'a[1]', 'what?', "'quoted'", 'a:b', 'a*', 'a\\b']) expect(() => validateSheetBaseName(bad)).toThrow(/cannot name an Excel sheet/);
    expect(() => validateSheetBaseName('Tickets 2026')).not.toThrow();
  });
});

describe('positionAfter', () => {
  it('is where planRows leaves the same number of rows, however many sheets they fill', () => {
    for (const maxRows of [2, 3, 5, 37]) {
      for (let rows = 0; rows <= 200; rows++) expect(positionAfter(rows, maxRows), `${rows} rows, ${maxRows} per sheet`).toEqual(planRows({ sheet: 0, rows: 0 }, rows, maxRows).next);
    }
    expect(positionAfter(5_000_000_000, 2)).toEqual({ sheet: 4_999_999_999, rows: 1 });
  });
});

describe('planRows', () => {
  it('fills a sheet up to the limit including its header, then starts the next', () => {
    // 5 rows per sheet = header + 4 data rows.
    const first = planRows({ sheet: 0, rows: 0 }, 3, 5);
    expect(first).toEqual({ segments: [{ sheet: 0, start: 0, end: 3, firstRow: 2 }], next: { sheet: 0, rows: 3 } });
    const second = planRows(first.next, 10, 5);
    expect(second.segments).toEqual([
      { sheet: 0, start: 0, end: 1, firstRow: 5 },
      { sheet: 1, start: 1, end: 5, firstRow: 2 },
      { sheet: 2, start: 5, end: 9, firstRow: 2 },
      { sheet: 3, start: 9, end: 10, firstRow: 2 },
    ]);
    expect(second.next).toEqual({ sheet: 3, rows: 1 });
  });

  it('keeps a full sheet current until another row comes, so no empty sheet follows', () => {
    const exact = planRows({ sheet: 0, rows: 0 }, 4, 5);
    expect(exact.next).toEqual({ sheet: 0, rows: 4 });
    expect(planRows(exact.next, 0, 5)).toEqual({ segments: [], next: { sheet: 0, rows: 4 } });
    expect(planRows(exact.next, 1, 5).segments).toEqual([{ sheet: 1, start: 0, end: 1, firstRow: 2 }]);
  });

  it("uses Excel's own limit by default and covers every row exactly once", () => {
    const plan = planRows({ sheet: 0, rows: EXCEL_MAX_ROWS - 3 }, 1000, EXCEL_MAX_ROWS);
    expect(plan.segments.map((s) => [s.sheet, s.end - s.start, s.firstRow])).toEqual([
      [0, 2, EXCEL_MAX_ROWS - 1],
      [1, 998, 2],
    ]);
    expect(plan.segments.at(-1)!.end).toBe(1000);
  });

  it('rejects impossible limits', () => {
    for (const bad of [1, 0, EXCEL_MAX_ROWS + 1, 2.5]) {
      expect(() => planRows({ sheet: 0, rows: 0 }, 1, bad)).toThrow(/A sheet holds 2 to 1048576 rows/);
      expect(() => positionAfter(1, bad)).toThrow(/A sheet holds 2 to 1048576 rows/);
    }
  });
});

describe('columnWidths', () => {
  it('fits header and sample values within bounds; date-times fit their format', () => {
    const widths = columnWidths(TICKET_COLUMNS, [[1, 'T-1', '00012345', 'x'.repeat(200), 500, 'sold', 'line one\nline two longer', null, null, null, null, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']]);
    expect(widths).toEqual([8, 15, 10, 60, 13, 8, 17, 13, 13, 8, 25, 25, 25]);
  });
});
