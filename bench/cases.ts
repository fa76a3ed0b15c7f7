import { NODE_FLAGS } from '../bin/node-flags.mjs';
import { TICKET_COLUMNS } from '../raffle/tickets.ts';
import type { DatasetKey, Engine } from './datasets.ts';
import type { Command } from './measure.ts';

export type Group = 'csv' | 'tsv' | 'txt' | 'xlsx' | 'migrate' | 'import' | 'flat';
/** `tool`: the database's own shell; `peer`: a hand-written Node script in bench/peers. */
export type Role = 'sluice' | 'tool' | 'peer';

export interface Target {
  /** Highest allowed ratio to the row's reference (wall time, or peak RSS for flatness). */
  readonly maxRatio?: number;
  readonly maxRssMb?: number;
  readonly text: string;
}

/** Where one repetition reads (the data set, or a fresh copy of it) and writes. */
export interface CaseEnv {
  readonly url: string;
  readonly out: string;
  /** The CSV an import case reads (the data set as export-csv writes it). */
  readonly input?: string;
}

export interface BenchCase {
  /** `<group>.<impl>.<engine>[.<size>]`, matched by `--only`. */
  readonly id: string;
  readonly label: string;
  readonly group: Group;
  readonly engine: Engine;
  readonly role: Role;
  readonly dataset: DatasetKey;
  /** Output file extension; none for the migration, which writes to the database. */
  readonly extension?: string;
  /**
   * Each repetition runs against a fresh database: a copy of the legacy data set (the migration
   * changes it) or an empty tickets table (an import fills it). Otherwise it reads the data set.
   */
  readonly fresh?: 'legacy' | 'empty';
  readonly referenceId?: string;
  readonly ratioOf: 'wall' | 'rss';
  readonly target?: Target;
  command(env: CaseEnv): Command;
}

export interface CaseOptions {
  readonly rows: number;
  readonly flatRows: readonly [number, number];
  /** Pipeline name -> output kind, from `sluice list`. */
  readonly pipelines: ReadonlyMap<string, string>;
  readonly xlsxPeer: boolean;
  readonly engines: readonly Engine[];
}

const COLUMNS = TICKET_COLUMNS.map((c) => c.name).join(', ');
const SELECT_ALL = `SELECT ${COLUMNS} FROM tickets ORDER BY id`;
const SELECT_BARCODES = 'SELECT barcode FROM tickets ORDER BY id';
const UPDATE_SQLITE =
  "UPDATE tickets SET barcode = substr('00000000' || barcode, -8), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') " +
  "WHERE length(barcode) < 8 AND barcode <> '' AND barcode NOT GLOB '*[^0-9]*'";
const UPDATE_PG = "UPDATE tickets SET barcode = lpad(barcode, 8, '0'), updated_at = now() WHERE length(barcode) < 8 AND barcode ~ '^[0-9]+$'";

const EXPORT_TARGET: Target = { maxRatio: 2.5, maxRssMb: 120, text: '≤ 2.5x, < 120 MB' };
const ENGINE_NAME: Record<Engine, string> = { sqlite: 'SQLite', pg: 'PostgreSQL' };

export function engineName(engine: Engine): string {
  return ENGINE_NAME[engine];
}

function sqliteFile(url: string): string {
  return url.slice('sqlite:'.length);
}

function psql(url: string, sql: string): string[] {
  return ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', sql];
}

type ShellFormat = 'csv' | 'tsv' | 'txt';
const SQLITE_MODE: Record<ShellFormat, string[]> = { csv: ['-csv', '-header'], tsv: ['-tabs', '-header'], txt: ['-list', '-noheader'] };
const COPY_OPTIONS: Record<ShellFormat, string> = { csv: ' WITH (FORMAT csv, HEADER)', tsv: ' WITH (FORMAT text, HEADER)', txt: '' };

/** psql prints timestamps in the session time zone (PGTZ): UTC, as sluice does. */
function shellExport(engine: Engine, format: ShellFormat, sql: string): (env: CaseEnv) => Command {
  if (engine === 'sqlite') return ({ url, out }) => ({ argv: ['sqlite3', ...SQLITE_MODE[format], sqliteFile(url), sql], stdoutFile: out });
  return ({ url, out }) => ({ argv: psql(url, `\\copy (${sql}) TO STDOUT${COPY_OPTIONS[format]}`), stdoutFile: out, env: { PGTZ: 'UTC' } });
}

function sluice(pipeline: string, writesFile = true, extra: readonly string[] = []): (env: CaseEnv) => Command {
  return ({ url, out }) => ({
    argv: ['node', ...NODE_FLAGS, 'bin/sluice.mjs', 'run', pipeline, '--db', url, ...(writesFile ? ['--out', out] : []), ...extra, '--log-level', 'warn'],
  });
}

/** Issue 14's targets for a parallel CSV export, against the database's own single-core export. */
const PARALLEL_TARGET: Record<Engine, Target> = {
  sqlite: { maxRatio: 2, maxRssMb: 150, text: '≤ 2.0x, < 150 MB' },
  pg: { maxRatio: 1.5, maxRssMb: 150, text: '≤ 1.5x, < 150 MB' },
};

/** `sluice run export-csv --parallel N`; the label leaves out "sluice" so that `--only csv.sluice` still means the one-reader case. */
function parallelCases(engine: Engine, dataset: DatasetKey): BenchCase[] {
  const base = { group: 'csv' as const, engine, dataset, extension: 'csv', ratioOf: 'wall' as const, role: 'sluice' as const, referenceId: `csv.shell.${engine}` };
  return [2, 4].map((n) => ({ ...base, id: `csv.parallel-${n}.${engine}`, label: `export-csv --parallel ${n}`, target: PARALLEL_TARGET[engine], command: sluice('export-csv', true, ['--parallel', String(n)]) }));
}

function peer(script: string, nodeFlags: string[] = []): (env: CaseEnv) => Command {
  return ({ url, out }) => ({ argv: ['node', ...nodeFlags, `bench/peers/${script}`, '--db', url, '--out', out] });
}

function exportGroup(group: 'csv' | 'tsv' | 'txt', pipeline: string, engine: Engine, dataset: DatasetKey): BenchCase[] {
  const referenceId = `${group}.shell.${engine}`;
  const sql = group === 'txt' ? SELECT_BARCODES : SELECT_ALL;
  const toolLabel = engine === 'sqlite' ? `sqlite3 ${SQLITE_MODE[group][0]}` : `psql \\copy ${group === 'csv' ? 'CSV' : 'text'}`;
  const base = { group, engine, dataset, extension: group, ratioOf: 'wall' as const };
  const label = group === 'csv' ? `sluice ${pipeline}` : `sluice ${pipeline} (${group.toUpperCase()})`;
  const cases: BenchCase[] = [
    { ...base, id: `${group}.sluice.${engine}`, label, role: 'sluice', referenceId, target: EXPORT_TARGET, command: sluice(pipeline) },
    { ...base, id: referenceId, label: toolLabel, role: 'tool', command: shellExport(engine, group, sql) },
  ];
  if (group !== 'csv') return cases;
  cases.push(...parallelCases(engine, dataset));
  const careful = engine === 'sqlite' ? 'careful Node: iterate() + csv-stringify' : 'careful Node: pg-query-stream + csv-stringify';
  const old = engine === 'sqlite' ? 'old way: all() + one string' : 'old way: pool.query + one string';
  return [
    ...cases,
    { ...base, id: `csv.careful.${engine}`, label: careful, role: 'peer', referenceId, command: peer('csv-careful.mjs') },
    { ...base, id: `csv.old-way.${engine}`, label: old, role: 'peer', referenceId, command: peer('csv-old-way.mjs', ['--max-old-space-size=4096']) },
  ];
}

function xlsxGroup(engine: Engine, dataset: DatasetKey, withPeer: boolean): BenchCase[] {
  const base = { group: 'xlsx' as const, engine, dataset, extension: 'xlsx', ratioOf: 'wall' as const };
  const referenceId = withPeer ? `xlsx.exceljs.${engine}` : undefined;
  const target: Target = withPeer ? { maxRatio: 1, maxRssMb: 200, text: '≤ 1.0x, < 200 MB' } : { maxRssMb: 200, text: '< 200 MB' };
  const cases: BenchCase[] = [{ ...base, id: `xlsx.sluice.${engine}`, label: 'sluice export-xlsx', role: 'sluice', referenceId, target, command: sluice('export-xlsx') }];
  // Only SQLite encodes XLSX rows in parallel readers (PostgreSQL's COPY cannot write them).
  if (engine === 'sqlite') {
    const parallelTarget: Target = withPeer ? { maxRatio: 0.25, maxRssMb: 150, text: '≤ 0.25x, < 150 MB' } : { maxRssMb: 150, text: '< 150 MB' };
    cases.push({ ...base, id: `xlsx.parallel-2.${engine}`, label: 'export-xlsx --parallel 2', role: 'sluice', referenceId, target: parallelTarget, command: sluice('export-xlsx', true, ['--parallel', '2']) });
  }
  if (withPeer) cases.push({ ...base, id: referenceId!, label: 'hand-written exceljs', role: 'peer', command: peer('xlsx-exceljs.mjs') });
  return cases;
}

function migrateGroup(engine: Engine, rows: number): BenchCase[] {
  const dataset: DatasetKey = { engine, rows, legacy: true };
  const base = { group: 'migrate' as const, engine, dataset, fresh: 'legacy' as const, ratioOf: 'wall' as const };
  const referenceId = `migrate.update.${engine}`;
  const maxRatio = engine === 'sqlite' ? 1.5 : 2;
  const update = ({ url }: CaseEnv): Command => ({ argv: engine === 'sqlite' ? ['sqlite3', sqliteFile(url), UPDATE_SQLITE] : psql(url, UPDATE_PG) });
  return [
    { ...base, id: `migrate.sluice.${engine}`, label: 'sluice migrate-8digit-barcodes', role: 'sluice', referenceId, target: { maxRatio, text: `≤ ${maxRatio}x` }, command: sluice('migrate-8digit-barcodes', false) },
    { ...base, id: referenceId, label: `single UPDATE (${engine === 'sqlite' ? 'sqlite3' : 'psql'})`, role: 'tool', command: update },
  ];
}

const IMPORT_TARGET: Target = { maxRatio: 2.5, maxRssMb: 150, text: '≤ 2.5x, < 150 MB' };

function sluiceImport({ url, input }: CaseEnv): Command {
  return { argv: ['node', ...NODE_FLAGS, 'bin/sluice.mjs', 'run', 'import-tickets', '--db', url, '--in', input!, '--log-level', 'warn'] };
}

/** The database's own CSV loader into the same empty table (indexes included), which validates nothing. */
function shellImport(engine: Engine): (env: CaseEnv) => Command {
  if (engine === 'sqlite') return ({ url, input }) => ({ argv: ['sqlite3', sqliteFile(url), `.import --csv --skip 1 ${input} tickets`] });
  return ({ url, input }) => ({ argv: psql(url, `\\copy tickets FROM '${input}' WITH (FORMAT csv, HEADER)`) });
}

/** `import-tickets` of the data set's own CSV export into an empty table, against the database's loader. */
function importGroup(engine: Engine, dataset: DatasetKey): BenchCase[] {
  const base = { group: 'import' as const, engine, dataset, fresh: 'empty' as const, ratioOf: 'wall' as const };
  const referenceId = `import.shell.${engine}`;
  const label = engine === 'sqlite' ? 'sqlite3 .import --csv' : 'psql \\copy FROM (CSV)';
  return [
    { ...base, id: `import.sluice.${engine}`, label: 'sluice import-tickets (CSV)', role: 'sluice', referenceId, target: IMPORT_TARGET, command: sluiceImport },
    { ...base, id: referenceId, label, role: 'tool', command: shellImport(engine) },
  ];
}

/** Peak RSS of the CSV export at a small and a large size: the large one must stay within 15%. */
function flatGroup(engine: Engine, [small, large]: readonly [number, number], withImport: boolean): BenchCase[] {
  const base = { group: 'flat' as const, engine, extension: 'csv', role: 'sluice' as const, ratioOf: 'rss' as const, command: sluice('export-csv') };
  const smallId = `flat.sluice.${engine}.small`;
  const rows = (n: number) => `sluice export-csv @ ${n.toLocaleString('en-US')} rows`;
  const cases: BenchCase[] = [
    { ...base, id: smallId, label: rows(small), dataset: { engine, rows: small, legacy: false } },
    { ...base, id: `flat.sluice.${engine}.large`, label: rows(large), dataset: { engine, rows: large, legacy: false }, referenceId: smallId, target: { maxRatio: 1.15, text: 'RSS ≤ 1.15x the small run' } },
  ];
  if (!withImport) return cases;
  const imports = { ...base, extension: undefined, fresh: 'empty' as const, command: sluiceImport };
  const importRows = (n: number) => `sluice import-tickets @ ${n.toLocaleString('en-US')} rows`;
  const smallImport = `flat.import.${engine}.small`;
  return [
    ...cases,
    { ...imports, id: smallImport, label: importRows(small), dataset: { engine, rows: small, legacy: false } },
    { ...imports, id: `flat.import.${engine}.large`, label: importRows(large), dataset: { engine, rows: large, legacy: false }, referenceId: smallImport, target: { maxRatio: 1.15, maxRssMb: 150, text: 'RSS ≤ 1.15x the small run, < 150 MB' } },
  ];
}

/** Every case the present pipelines and peers allow, in report order. */
export function allCases(options: CaseOptions): BenchCase[] {
  const has = (name: string) => options.pipelines.has(name);
  const cases: BenchCase[] = [];
  for (const engine of options.engines) {
    const dataset: DatasetKey = { engine, rows: options.rows, legacy: false };
    cases.push(...exportGroup('csv', 'export-csv', engine, dataset));
    cases.push(...exportGroup('tsv', 'export-all-tickets', engine, dataset));
    cases.push(...exportGroup('txt', 'export-all-barcodes', engine, dataset));
    if (has('export-xlsx')) cases.push(...xlsxGroup(engine, dataset, options.xlsxPeer));
    if (has('migrate-8digit-barcodes')) cases.push(...migrateGroup(engine, options.rows));
    if (has('import-tickets')) cases.push(...importGroup(engine, dataset));
    cases.push(...flatGroup(engine, options.flatRows, has('import-tickets')));
  }
  const order: Group[] = ['csv', 'tsv', 'txt', 'xlsx', 'migrate', 'import', 'flat'];
  return cases.sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group));
}

/** An `--only` item matches a case when each of its dot-separated parts occurs in the case's id or label. */
function matches(item: string, c: BenchCase): boolean {
  const haystack = `${c.id} ${c.label}`.toLowerCase();
  return item
    .toLowerCase()
    .split('.')
    .every((part) => haystack.includes(part));
}

/**
 * The cases to run: all but the flatness pair unless asked for (it seeds 10x the rows), narrowed
 * by `--only`, plus the reference of every chosen case so that each ratio is measured in this run.
 */
export function selectCases(cases: readonly BenchCase[], only: readonly string[], flat: boolean): BenchCase[] {
  const wantFlat = flat || only.some((item) => item.toLowerCase().includes('flat'));
  const chosen = new Set(cases.filter((c) => (c.group !== 'flat' || wantFlat) && (only.length === 0 || only.some((item) => matches(item, c)))));
  for (const c of [...chosen]) {
    const reference = cases.find((r) => r.id === c.referenceId);
    if (reference) chosen.add(reference);
  }
  return cases.filter((c) => chosen.has(c));
}
