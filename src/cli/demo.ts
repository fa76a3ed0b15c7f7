import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineSet } from '../core/registry.ts';
import type { Workspace } from './apps.ts';
import { SluiceError } from '../core/errors.ts';
import type { RunSummary } from '../core/metrics.ts';
import { type Database, quoteIdent } from '../core/database.ts';
import { openDatabase } from '../db/open.ts';
import { type Command, defineCommand } from './command.ts';
import { formatBytes, formatCount, formatTable } from './format.ts';

/** Each pipeline runs in its own process (with this one's V8 flags), so its peak memory is its own. */
function runChild(args: string[], metricsPath: string): Promise<RunSummary> {
  return new Promise((resolve, reject) => {
    // The same entry point (bin/sluice.mjs) and V8 flags that started this process.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'run', ...args, '--metrics', metricsPath, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(readFileSync(metricsPath, 'utf8')) as RunSummary);
      else reject(new SluiceError('INTERNAL', `sluice run ${args[0]} exited with code ${code}`));
    });
  });
}

/** A table the demo creates beside its data: its mark that the data is its own to replace. */
const DEMO_MARK = 'sluice_demo';

/** The tables of the database that hold rows (sluice's own: its mark, the run history and locks, aside). */
async function tablesWithRows(db: Database): Promise<string[]> {
  const tables = await db.query({
    text: db.dialect === 'sqlite' ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'" : 'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()',
    values: [],
  });
  const filled: string[] = [];
  for (const [name] of tables) {
    if (String(name).startsWith('sluice_')) continue;
    const [row] = await db.query({ text: `SELECT count(*) FROM (SELECT 1 FROM ${quoteIdent(String(name))} LIMIT 1) AS any_row`, values: [] });
    if (Number(row?.[0] ?? 0) > 0) filled.push(String(name));
  }
  return filled;
}

/**
 * Refuses to replace data the demo did not create: a demo pointed at the app's database must
 * never empty it silently. Marks the database as the demo's once it may replace its data.
 */
async function claimDatabase(url: string, reset: boolean): Promise<void> {
  const db = openDatabase(url, { create: true });
  try {
    const marked = (await db.query({ text: db.dialect === 'sqlite' ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?" : 'SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1', values: [DEMO_MARK] })).length > 0;
    if (!marked && !reset) {
      const filled = await tablesWithRows(db);
      if (filled.length > 0) {
        throw new SluiceError('PRECONDITION_FAILED', `${db.label} holds data the demo did not create (${filled.join(', ')}); the demo replaces its data, so it stops here. Use another --db, or pass --reset to replace it.`);
      }
    }
    await db.exec(`CREATE TABLE IF NOT EXISTS ${DEMO_MARK} (created_by TEXT)`);
  } finally {
    await db.close();
  }
}

export interface DemoOptions {
  readonly rows: number;
  readonly db: string;
  readonly reset: boolean;
  /** The pipeline that seeds demo data (it takes --count and --reset). */
  readonly seedPipeline: string;
  readonly pipelines: PipelineSet;
}

export async function demoCommand(options: DemoOptions): Promise<number> {
  const { db } = options;
  await claimDatabase(db, options.reset);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  const summaries: RunSummary[] = [];
  try {
    process.stderr.write(`Seeding ${formatCount(options.rows)} rows of demo data into ${db} (${options.seedPipeline}) ...\n`);
    summaries.push(await runChild([options.seedPipeline, '--count', String(options.rows), '--reset', '--db', db], join(dir, 'seed.json')));
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

export function demoCli(ws: Workspace): Command {
  const demo = ws.demo;
  return defineCommand({
    name: 'demo',
    summary: 'Seeds demo data into a database of its own and runs every export pipeline into out/, printing rows, time and peak memory.',
    options: {
      rows: { type: 'integer', min: 1, max: 50_000_000, default: 100_000, description: 'Rows of demo data to seed' },
      db: { type: 'string', ...(demo ? { default: demo.database } : {}), description: 'Database for the demo data (not $DATABASE_URL: the demo replaces the data it finds)' },
      reset: { type: 'boolean', default: false, description: 'Replace data the demo did not create' },
    },
    async action({ options }) {
      if (!demo) throw new SluiceError('USAGE', 'No app here defines a demo (see defineApp).');
      return demoCommand({ rows: options.rows as number, db: (options.db as string | undefined) ?? demo.database, reset: options.reset as boolean, seedPipeline: demo.seedPipeline, pipelines: ws.pipelines });
    },
  });
}
