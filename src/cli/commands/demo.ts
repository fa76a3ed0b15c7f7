import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pipeline } from '../../core/define.ts';
import type { RunSummary } from '../../core/metrics.ts';
import { formatBytes, formatCount, formatTable } from '../format.ts';

const DEMO_DB = 'sqlite:data/raffle.db';

/** Each pipeline runs in its own process (with this one's V8 flags), so its peak memory is its own. */
function runChild(args: string[], metricsPath: string): Promise<RunSummary> {
  return new Promise((resolve, reject) => {
    // The same entry point (bin/sluice.mjs) and V8 flags that started this process.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'run', ...args, '--metrics', metricsPath, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(readFileSync(metricsPath, 'utf8')) as RunSummary);
      else reject(new Error(`sluice run ${args[0]} exited with code ${code}`));
    });
  });
}

export interface DemoOptions {
  readonly rows: number;
  readonly db?: string;
  readonly pipelines: ReadonlyMap<string, Pipeline>;
}

export async function demoCommand(options: DemoOptions): Promise<number> {
  const db = options.db ?? DEMO_DB;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  const summaries: RunSummary[] = [];
  try {
    process.stderr.write(`Seeding ${formatCount(options.rows)} demo tickets into ${db} ...\n`);
    summaries.push(await runChild(['seed-tickets', '--count', String(options.rows), '--reset', '--db', db], join(dir, 'seed.json')));
    for (const pipeline of options.pipelines.values()) {
      if (pipeline.sink.type !== 'encoder') continue;
      process.stderr.write(`Running ${pipeline.name} ...\n`);
      summaries.push(await runChild([pipeline.name, '--db', db], join(dir, `${pipeline.name}.json`)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = summaries.map((s) => [
    s.pipeline,
    formatCount(s.rows),
    `${(s.durationMs / 1000).toFixed(2)} s`,
    formatCount(s.rowsPerSecond),
    formatBytes(s.peakRssBytes),
    s.output ?? db,
  ]);
  process.stdout.write(`\n${formatTable(['pipeline', 'rows', 'time', 'rows/s', 'peak RSS', 'output'], rows, [1, 2, 3, 4])}\n`);
  return 0;
}
