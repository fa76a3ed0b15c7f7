import { NODE_FLAGS } from '../bin/node-flags.mjs';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchCase, allCases, selectCases } from './cases.ts';
import { type Engine, datasetId, dropOrphans, dropScratch, emptyTemplate, ensureDataset, ensureImportFile, exportCommand, freshEmptyCopy, freshLegacyCopy, postgresVersion, seedCommand, shortBarcodes, ticketCount } from './datasets.ts';
import { type Command, type Measurement, assertTimeAvailable, measure } from './measure.ts';
import { type CaseResult, report, shellLine, table } from './report.ts';

const USAGE = `npm run bench -- [options]
  --rows N          tickets per data set (default 1,000,000)
  --only a,b        cases whose id or label contains each dot-separated part of an item (e.g. csv, sqlite, csv.sluice.pg, old-way)
  --repeat K        repetitions per case; the median is reported (default 3)
  --out PATH        report file (default bench/RESULTS.md)
  --flat            add the memory flatness pair (also chosen by --only flat); it seeds rows*10 tickets
  --flat-rows a,b   the flatness sizes (default rows/10 and rows*10)
  --flat-repeat K   repetitions of the flatness pair (default 1: it compares peak RSS, and the large run is long)
  --timeout S       per-run timeout in seconds (default 60 + 240 per million rows)`;

interface Options {
  readonly rows: number;
  readonly only: string[];
  readonly repeat: number;
  readonly out: string;
  readonly flat: boolean;
  readonly flatRows: [number, number];
  readonly flatRepeat: number;
  readonly timeout?: number;
}

function count(text: string, name: string): number {
  const value = Number(text.replace(/[_,]/g, ''));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number, not "${text}".\n${USAGE}`);
  return value;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000' },
      only: { type: 'string', multiple: true, default: [] },
      repeat: { type: 'string', default: '3' },
      out: { type: 'string', default: 'bench/RESULTS.md' },
      flat: { type: 'boolean', default: false },
      'flat-rows': { type: 'string' },
      'flat-repeat': { type: 'string', default: '1' },
      timeout: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const rows = count(values.rows, 'rows');
  const flatRows = values['flat-rows']?.split(',').map((v) => count(v, 'flat-rows')) ?? [Math.max(1, Math.round(rows / 10)), rows * 10];
  if (flatRows.length !== 2) throw new Error(`--flat-rows takes two sizes, e.g. 100000,10000000.\n${USAGE}`);
  return {
    rows,
    only: values.only.flatMap((v) => v.split(',')).filter(Boolean),
    repeat: count(values.repeat, 'repeat'),
    out: values.out,
    flat: values.flat,
    flatRows: [flatRows[0]!, flatRows[1]!],
    flatRepeat: count(values['flat-repeat'], 'flat-repeat'),
    timeout: values.timeout === undefined ? undefined : count(values.timeout, 'timeout'),
  };
}

/** Pipeline name -> output kind, from `sluice list` (which also rebuilds dist/ when the sources changed). */
function listPipelines(): Map<string, string> {
  const result = spawnSync('node', [...NODE_FLAGS, 'bin/sluice.mjs', 'list'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`sluice list failed (exit ${result.status}): ${result.stderr}`);
  const rows = result.stdout.trim().split('\n').slice(2);
  return new Map(rows.map((line) => line.split(/\s+/)).map(([name, output]) => [name!, output!]));
}

/** Counts lines without holding the file: a truncated export must not pass as a fast one. */
async function lineCount(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

/** What a successful exit must have produced; a reason when it did not. */
async function checkOutput(benchCase: BenchCase, env: { url: string; out: string }): Promise<string | undefined> {
  if (benchCase.fresh === 'legacy') {
    const left = await shortBarcodes(benchCase.engine, env.url);
    return left === 0 ? undefined : `${left} short barcodes left`;
  }
  if (benchCase.fresh === 'empty') {
    const imported = await ticketCount(benchCase.engine, env.url);
    return imported === benchCase.dataset.rows ? undefined : `${imported} tickets imported, expected ${benchCase.dataset.rows}`;
  }
  if (!existsSync(env.out) || statSync(env.out).size === 0) return 'no output';
  if (benchCase.extension === 'xlsx') return undefined;
  const expected = benchCase.dataset.rows + (benchCase.group === 'txt' ? 0 : 1);
  const lines = await lineCount(env.out);
  return lines === expected ? undefined : `${lines} lines, expected ${expected}`;
}

class Harness {
  readonly tmp: string;
  readonly urls = new Map<string, string>();
  /** Import cases: rows -> the CSV they read. */
  readonly inputs = new Map<number, string>();
  readonly #templates = new Map<Engine, string>();

  constructor(readonly options: Options) {
    mkdirSync('bench/.tmp', { recursive: true });
    this.tmp = mkdtempSync(join('bench/.tmp', 'run-'));
  }

  timeoutFor(benchCase: BenchCase): number {
    return this.options.timeout ?? Math.ceil(60 + (240 * benchCase.dataset.rows) / 1_000_000);
  }

  /** The data set, or for a case that changes data a fresh database (see BenchCase.fresh). */
  async source(benchCase: BenchCase): Promise<{ url: string; scratch?: string }> {
    const { engine, fresh } = benchCase;
    if (!fresh) return { url: this.urls.get(datasetId(benchCase.dataset))! };
    const scratch = engine === 'sqlite' ? join(this.tmp, 'scratch.db') : `sluice_bench_scratch_${process.pid}`;
    if (fresh === 'legacy') return { url: await freshLegacyCopy(engine, benchCase.dataset.rows, scratch), scratch };
    if (!this.#templates.has(engine)) this.#templates.set(engine, await emptyTemplate(engine, this.tmp));
    return { url: await freshEmptyCopy(engine, this.#templates.get(engine)!, scratch), scratch };
  }

  async runOnce(result: CaseResult, repetition: number): Promise<void> {
    const { benchCase } = result;
    if (result.runs.some((run) => !run.ok)) return; // a crash (say, out of memory) is not worth repeating
    const { url, scratch } = await this.source(benchCase);
    const out = join(this.tmp, `${benchCase.id}.${benchCase.extension ?? 'out'}`);
    // Another process may have touched the sources: rebuild now, not inside the measured run.
    if (benchCase.role === 'sluice') spawnSync('node', [...NODE_FLAGS, 'bin/sluice.mjs', 'list'], { stdio: 'ignore' });
    const command = benchCase.command({ url, out, input: this.inputs.get(benchCase.dataset.rows) });
    result.command ??= this.forReport(command);
    let measured: Measurement = await measure(command, this.timeoutFor(benchCase), join(this.tmp, 'time.txt'));
    if (measured.ok) {
      const problem = await checkOutput(benchCase, { url, out });
      if (problem) measured = { ok: false, failure: `wrong output: ${problem}` };
    }
    result.runs.push(measured);
    const figures = measured.ok ? `${measured.wallSeconds.toFixed(2)} s, ${(measured.peakRssKb / 1024).toFixed(0)} MB` : measured.failure;
    process.stderr.write(`bench: ${benchCase.id} #${repetition}: ${figures}\n`);
    rmSync(out, { force: true });
    if (scratch) await dropScratch(benchCase.engine, scratch);
  }

  forReport(command: Command): Command {
    const hide = (text: string) => text.replaceAll(this.tmp, '<tmp>');
    return { ...command, argv: command.argv.map(hide), stdoutFile: command.stdoutFile && hide(command.stdoutFile) };
  }

  /** Repetitions go round the cases of a group, so a noisy minute on a shared machine hits them all alike. */
  async run(results: CaseResult[]): Promise<void> {
    const groups = new Map<string, CaseResult[]>();
    for (const result of results) {
      const key = `${result.benchCase.group}.${result.benchCase.engine}`;
      groups.set(key, [...(groups.get(key) ?? []), result]);
    }
    for (const group of groups.values()) {
      const repeat = group[0]!.benchCase.group === 'flat' ? this.options.flatRepeat : this.options.repeat;
      for (let repetition = 1; repetition <= repeat; repetition++) {
        for (const result of group) await this.runOnce(result, repetition);
      }
    }
  }

  async prepareData(cases: readonly BenchCase[]): Promise<string[]> {
    const commands: string[] = [];
    for (const c of cases) {
      const id = datasetId(c.dataset);
      if (this.urls.has(id)) continue;
      const url = await ensureDataset(c.dataset);
      this.urls.set(id, url);
      commands.push(shellLine({ argv: seedCommand(url, c.dataset.rows, c.dataset.legacy) }));
    }
    for (const c of cases.filter((c) => c.fresh === 'empty' && !this.inputs.has(c.dataset.rows))) {
      const input = ensureImportFile(c.dataset.rows);
      this.inputs.set(c.dataset.rows, input);
      commands.push(shellLine({ argv: exportCommand(this.urls.get(datasetId({ engine: 'sqlite', rows: c.dataset.rows, legacy: false })) ?? `sqlite:<the ${c.dataset.rows}-row SQLite data set>`, input) }));
    }
    return commands;
  }

  async close(): Promise<void> {
    for (const [engine, template] of this.#templates) if (engine === 'pg') await dropScratch(engine, template);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

async function engines(notes: string[]): Promise<{ engines: Engine[]; postgres?: string }> {
  const postgres = await postgresVersion();
  if (postgres) {
    await dropOrphans();
    return { engines: ['sqlite', 'pg'], postgres };
  }
  if (process.env.CI === 'true') throw new Error('PostgreSQL is unreachable and CI=true: the PostgreSQL cases cannot be skipped in CI.');
  notes.push('PostgreSQL was unreachable: its cases were skipped.');
  process.stderr.write('bench: PostgreSQL unreachable, running the SQLite cases only\n');
  return { engines: ['sqlite'] };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  assertTimeAvailable();
  const started = new Date();
  const loadAtStart = loadavg()[0]!;
  const notes: string[] = [];
  const { engines: available, postgres } = await engines(notes);
  const pipelines = listPipelines();
  const xlsxPeer = existsSync('bench/peers/xlsx-exceljs.mjs');
  for (const missing of ['export-xlsx', 'migrate-8digit-barcodes'].filter((name) => !pipelines.has(name))) notes.push(`Pipeline ${missing} does not exist yet: its cases were not run.`);
  const cases = selectCases(allCases({ rows: options.rows, flatRows: options.flatRows, pipelines, xlsxPeer, engines: available }), options.only, options.flat);
  if (cases.length === 0) throw new Error(`No case matches --only ${options.only.join(',')}.`);
  mkdirSync(dirname(options.out), { recursive: true });
  const harness = new Harness(options);
  try {
    const seedCommands = await harness.prepareData(cases);
    const results: CaseResult[] = cases.map((benchCase) => ({ benchCase, runs: [] }));
    await harness.run(results);
    writeFileSync(options.out, report(results, { argv: process.argv.slice(2), rows: options.rows, repeat: options.repeat, flatRepeat: cases.some((c) => c.group === 'flat') ? options.flatRepeat : undefined, started, loadAtStart, postgres, seedCommands, notes }));
    process.stdout.write(`${table(results)}\n\nbench: wrote ${options.out}\n`);
    const sluiceFailed = results.filter((r) => r.benchCase.role === 'sluice' && r.runs.some((run) => !run.ok));
    for (const r of sluiceFailed) process.stderr.write(`bench: sluice case ${r.benchCase.id} failed\n`);
    return sluiceFailed.length ? 1 : 0;
  } finally {
    await harness.close();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
