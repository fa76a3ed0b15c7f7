import { describe, expect, it } from 'vitest';
import { type CaseResult, table } from '../../bench/report.ts';
import { allCases, selectCases } from '../../bench/cases.ts';

const pipelines = new Map([
  ['export-csv', 'csv'],
  ['export-all-tickets', 'tsv'],
  ['export-all-barcodes', 'txt'],
]);
const cases = allCases({ rows: 1000, flatRows: [100, 10_000], pipelines, xlsxPeer: false, engines: ['sqlite', 'pg'] });
const ids = (only: string[], flat = false) => selectCases(cases, only, flat).map((c) => c.id);

describe('case selection', () => {
  it('runs every export on both databases but leaves the flatness pair out unless asked', () => {
    const all = ids([]);
    expect(all).toContain('csv.sluice.sqlite');
    expect(all).toContain('txt.shell.pg');
    expect(all.some((id) => id.startsWith('flat.'))).toBe(false);
    expect(all.some((id) => id.startsWith('xlsx.') || id.startsWith('migrate.'))).toBe(false);
    expect(ids([], true)).toContain('flat.sluice.pg.large');
  });

  it('adds the reference of every chosen case, so its ratio is measured in the same run', () => {
    expect(ids(['csv.sluice.pg'])).toEqual(['csv.sluice.pg', 'csv.shell.pg']);
    expect(ids(['old-way'])).toEqual(['csv.shell.sqlite', 'csv.old-way.sqlite', 'csv.shell.pg', 'csv.old-way.pg']);
    expect(ids(['flat.sqlite'])).toEqual(['flat.sluice.sqlite.small', 'flat.sluice.sqlite.large']);
  });

  it('includes the XLSX and migration cases only when those pipelines exist', () => {
    const more = new Map([...pipelines, ['export-xlsx', 'xlsx'], ['migrate-8digit-barcodes', 'database']]);
    const extended = allCases({ rows: 1000, flatRows: [100, 10_000], pipelines: more, xlsxPeer: true, engines: ['sqlite'] }).map((c) => c.id);
    expect(extended).toEqual(expect.arrayContaining(['xlsx.sluice.sqlite', 'xlsx.exceljs.sqlite', 'migrate.sluice.sqlite', 'migrate.update.sqlite']));
  });
});

describe('results table', () => {
  const byId = (id: string) => cases.find((c) => c.id === id)!;
  const ok = (wallSeconds: number, mb: number) => ({ ok: true as const, wallSeconds, peakRssKb: mb * 1024 });

  it('divides by the reference of the row and judges the target on ratio and RSS', () => {
    const results: CaseResult[] = [
      { benchCase: byId('csv.sluice.sqlite'), runs: [ok(6, 80), ok(5, 90), ok(7, 85)] },
      { benchCase: byId('csv.shell.sqlite'), runs: [ok(2, 6), ok(2, 6), ok(2, 6)] },
      { benchCase: byId('csv.old-way.sqlite'), runs: [{ ok: false, failure: 'OOM/crash' }] },
      { benchCase: byId('csv.sluice.pg'), runs: [ok(3, 130)] },
      { benchCase: byId('csv.shell.pg'), runs: [ok(2, 9)] },
    ];
    const lines = table(results).split('\n').slice(2);
    expect(lines[0]).toBe('| sluice export-csv | SQLite | 6.00 | 90 | 3.00 | ≤ 2.5x, < 120 MB | **no** (ratio) |');
    expect(lines[1]).toBe('| sqlite3 -csv | SQLite | 2.00 | 6 | 1.00 (reference) |  |  |');
    expect(lines[2]).toBe('| old way: all() + one string | SQLite | OOM/crash | — | — |  |  |');
    expect(lines[3]).toBe('| sluice export-csv | PostgreSQL | 3.00 | 130 | 1.50 | ≤ 2.5x, < 120 MB | **no** (RSS) |');
  });
});
