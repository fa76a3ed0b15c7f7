import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { type BenchCase, engineName } from './cases.ts';
import type { Command, Measurement } from './measure.ts';
import { median } from './measure.ts';

/** Every repetition of one case, and the command of its first (for the report). */
export interface CaseResult {
  readonly benchCase: BenchCase;
  readonly runs: Measurement[];
  command?: Command;
}

export interface Summary {
  readonly failure?: string;
  readonly wallSeconds?: number;
  readonly peakRssMb?: number;
}

/** Median wall time; peak RSS is the largest of the repetitions. A case fails if any repetition did. */
export function summarize(result: CaseResult): Summary {
  const failed = result.runs.find((run) => !run.ok);
  if (failed && !failed.ok) return { failure: failed.failure };
  const ok = result.runs.filter((run): run is Extract<Measurement, { ok: true }> => run.ok);
  if (ok.length === 0) return { failure: 'not run' };
  return { wallSeconds: median(ok.map((r) => r.wallSeconds)), peakRssMb: Math.max(...ok.map((r) => r.peakRssKb)) / 1024 };
}

function version(argv: string[]): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n')[0]! : 'not found';
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface RunInfo {
  /** The harness's own arguments, to reproduce the run. */
  readonly argv: readonly string[];
  readonly rows: number;
  readonly repeat: number;
  /** Repetitions of the flatness pair, when it ran. */
  readonly flatRepeat?: number;
  readonly started: Date;
  /** 1-minute load average at the start (the machine may be shared). */
  readonly loadAtStart: number;
  readonly postgres?: string;
  readonly seedCommands: readonly string[];
  readonly notes: readonly string[];
}

function machine(info: RunInfo): string[] {
  const sqlite = version(['sqlite3', '--version']).split(' ').slice(0, 2).join(' ');
  return [
    `- CPU: ${cpuModel()}, ${availableParallelism()} cores (nproc)`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; 1-minute load average ${info.loadAtStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`,
    `- Node ${process.version}; sqlite3 ${sqlite}; ${version(['psql', '--version'])}; PostgreSQL server ${info.postgres ?? 'unreachable'}`,
  ];
}

const SAFE = /^[\w@%+=:,./-]+$/;

/** `<tmp>/...` stays bare: it is the report's placeholder for the run's scratch directory. */
function quote(arg: string): string {
  return SAFE.test(arg.replace(/^<tmp>\//, '')) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The command as a shell line, with the redirect the harness does itself. */
export function shellLine(command: Command): string {
  const env = Object.entries(command.env ?? {}).map(([k, v]) => `${k}=${quote(v)} `);
  return env.join('') + command.argv.map(quote).join(' ') + (command.stdoutFile ? ` > ${quote(command.stdoutFile)}` : '');
}

function ratioCell(result: CaseResult, summaries: ReadonlyMap<string, Summary>, referenced: ReadonlySet<string>): { text: string; value?: number } {
  const { benchCase } = result;
  if (!benchCase.referenceId) return { text: referenced.has(benchCase.id) ? '1.00 (reference)' : '—' };
  const own = summaries.get(benchCase.id)!;
  const ref = summaries.get(benchCase.referenceId);
  const pick = (s: Summary | undefined) => (benchCase.ratioOf === 'wall' ? s?.wallSeconds : s?.peakRssMb);
  const [a, b] = [pick(own), pick(ref)];
  if (a === undefined || b === undefined || b === 0) return { text: ref?.failure ? 'reference failed' : '—' };
  const value = a / b;
  return { text: `${value.toFixed(2)}${benchCase.ratioOf === 'rss' ? ' (RSS)' : ''}`, value };
}

function metCell(result: CaseResult, summary: Summary, ratio: number | undefined): string {
  const target = result.benchCase.target;
  if (!target) return '';
  if (summary.failure) return '**no** (failed)';
  const misses: string[] = [];
  if (target.maxRatio !== undefined && (ratio === undefined || ratio > target.maxRatio)) misses.push(ratio === undefined ? 'no ratio' : 'ratio');
  if (target.maxRssMb !== undefined && summary.peakRssMb! >= target.maxRssMb) misses.push('RSS');
  return misses.length ? `**no** (${misses.join(', ')})` : 'yes';
}

export function table(results: readonly CaseResult[]): string {
  const summaries = new Map(results.map((r) => [r.benchCase.id, summarize(r)]));
  const referenced = new Set(results.map((r) => r.benchCase.referenceId).filter((id): id is string => id !== undefined));
  const lines = ['| case | database | median wall s | peak RSS MB | ratio to reference | target | met? |', '| --- | --- | ---: | ---: | ---: | --- | --- |'];
  for (const result of results) {
    const summary = summaries.get(result.benchCase.id)!;
    const ratio = ratioCell(result, summaries, referenced);
    const wall = summary.failure ?? summary.wallSeconds!.toFixed(2);
    const rss = summary.peakRssMb === undefined ? '—' : summary.peakRssMb.toFixed(0);
    const cells = [result.benchCase.label, engineName(result.benchCase.engine), wall, rss, ratio.text, result.benchCase.target?.text ?? '', metCell(result, summary, ratio.value)];
    lines.push(`| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function report(results: readonly CaseResult[], info: RunInfo): string {
  const commands = results.filter((r) => r.command).map((r) => `- ${r.benchCase.id}: \`${shellLine(r.command!)}\``);
  return [
    '# sluice benchmark results',
    '',
    `Run ${info.started.toISOString()} (${((Date.now() - info.started.getTime()) / 60_000).toFixed(1)} min) with ${info.rows.toLocaleString('en-US')} rows, ${info.repeat} repetition(s) per case${info.flatRepeat ? ` (${info.flatRepeat} for the flatness pair)` : ''}: wall time (from spawn to exit) is the median, peak RSS the largest (GNU time \`%M\`: the largest process of the tree). Each case runs as its own process. Each row's ratio divides by the reference of its group measured in the same run (peak RSS for the flatness row). Reproduce with \`npm run bench -- ${info.argv.map(quote).join(' ')}\`.`,
    '',
    '## Machine',
    '',
    ...machine(info),
    '',
    '## Results',
    '',
    table(results),
    '',
    ...(info.notes.length ? ['## Notes', '', ...info.notes.map((n) => `- ${n}`), ''] : []),
    '## Commands',
    '',
    'Data sets (cached in bench/.data and PostgreSQL databases `sluice_bench_*`; PostgreSQL ones are vacuumed after seeding):',
    '',
    ...info.seedCommands.map((c) => `- \`${c}\``),
    '',
    'Cases (first repetition; `<tmp>` is a scratch directory; the migration cases run on a fresh copy of the legacy data set each time):',
    '',
    ...commands,
    '',
  ].join('\n');
}
