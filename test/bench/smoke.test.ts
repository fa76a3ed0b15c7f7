import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';

const pgOk = await postgresAvailable();
const dir = scratchDir('sluice-bench-');
afterAll(() => dir.remove());

/** The table's rows as cells, keyed by "case / database". */
function tableRows(markdown: string): Map<string, string[]> {
  const rows = markdown.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| case') && !line.startsWith('| ---'));
  return new Map(
    rows.map((line) => {
      const cells = line.slice(2, -2).split(' | ');
      return [`${cells[0]} / ${cells[1]}`, cells];
    }),
  );
}

// The harness at a small size, as CI runs it: no timing assertions, only that every case ran and was measured.
describe('npm run bench (smoke, 20,000 rows)', () => {
  const out = dir.file('RESULTS.md');
  let run: ReturnType<typeof spawnSync>;

  it('completes and exits 0', () => {
    run = spawnSync('npm', ['run', '--silent', 'bench', '--', '--rows', '20000', '--repeat', '1', '--out', out], { encoding: 'utf8', timeout: 170_000 });
    expect(run.status, String(run.stderr)).toBe(0);
  }, 180_000);

  it('writes a report with the machine, the commands and a measured row for every sluice export', () => {
    const report = readFileSync(out, 'utf8');
    expect(report).toMatch(/20,000 rows/);
    expect(report).toMatch(/Node v\d+/);
    expect(report).toMatch(/bin\/sluice\.mjs run export-csv --db sqlite:bench\/\.data\/tickets-20000-[0-9a-f]{8}\.db --out /);
    const rows = tableRows(report);
    const databases = pgOk ? ['SQLite', 'PostgreSQL'] : ['SQLite'];
    const sluiceCases = ['sluice export-csv', 'sluice export-all-tickets (TSV)', 'sluice export-all-barcodes (TXT)'];
    for (const database of databases) {
      for (const name of sluiceCases) {
        const cells = rows.get(`${name} / ${database}`);
        expect(cells, `${name} on ${database}`).toBeDefined();
        const [, , wall, rss, ratio, target, met] = cells!;
        expect(Number(wall), `${name} wall`).toBeGreaterThan(0);
        expect(Number(rss), `${name} RSS`).toBeGreaterThan(10);
        expect(Number(ratio), `${name} ratio`).toBeGreaterThan(0);
        expect(target).toBe('≤ 2.5x, < 120 MB');
        expect(met).toMatch(/^(yes|\*\*no\*\* \(.+\))$/);
      }
      // XLSX and the migration too, once those pipelines exist: every sluice row is measured.
      const others = [...rows.values()].filter(([name, db]) => name!.startsWith('sluice ') && db === database);
      for (const [name, , wall, rss] of others) expect(Number(wall) > 0 && Number(rss) > 10, `${name}: ${wall} ${rss}`).toBe(true);
      const reference = database === 'SQLite' ? 'sqlite3 -csv' : 'psql \\copy CSV';
      expect(rows.get(`${reference} / ${database}`)?.[4]).toBe('1.00 (reference)');
    }
  });
});
