/**
 * A partitioned export on pg-boss workers against one `sluice run` of the same export, on the
 * PostgreSQL data set: with 1 worker and with 2 worker processes on this machine, each run cut
 * into the same number of partitions. Reports the wall time (submit to the joined file), each
 * worker's peak RSS (VmHWM), and where the time goes: planning and queueing before the first
 * partition starts, the partitions themselves, and the assembly after the last one.
 *
 *   npx tsx bench/queue-partitions.ts [--rows 2000000] [--partitions 4] [--workers 1,2]
 *
 * Every joined file is compared with the single run's, byte for byte. Prints JSON.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../bin/node-flags.mjs';
import { ensureDataset, pgUrl, withAdmin } from './datasets.ts';

const BIN = fileURLToPath(new URL('../bin/sluice.mjs', import.meta.url));
const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, partitions: { type: 'string', default: '4' }, workers: { type: 'string', default: '1,2' } } });
const rows = Number(values.rows!.replace(/[_,]/g, ''));
const partitions = Number(values.partitions);
const workerCounts = values.workers!.split(',').map(Number);

interface Proc {
  readonly child: ChildProcess;
  stderr(): string;
  /** Peak RSS (VmHWM) while alive, in bytes. */
  peakRss(): number;
  exited: Promise<number | null>;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], { env: { ...process.env, DATABASE_URL: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let peak = 0;
  const poll = setInterval(() => {
    try {
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024);
    } catch {
      // Exited.
    }
  }, 100);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (clearInterval(poll), resolve(code))));
  return { child, stderr: () => stderr, peakRss: () => peak, exited };
}

async function ready(proc: Proc, pattern: RegExp): Promise<void> {
  while (!pattern.test(proc.stderr())) {
    if (proc.child.exitCode !== null) throw new Error(`exited: ${proc.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The times (ms since the epoch) of the workers' log lines that match. */
function logTimes(logs: readonly string[], pattern: RegExp): number[] {
  return logs
    .flatMap((log) => log.split('\n'))
    .filter((line) => line.startsWith('{') && pattern.test(line))
    .map((line) => (JSON.parse(line) as { time: number }).time);
}

async function main(): Promise<void> {
  const data = await ensureDataset({ engine: 'pg', rows, legacy: false });
  const queueDb = `sluice_bench_queue_scratch_${process.pid}`;
  await withAdmin(undefined, (c) => c.query(`CREATE DATABASE ${queueDb}`));
  const queue = pgUrl(queueDb);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-partitions-'));
  try {
    const single = start(['run', 'export-csv', '--db', data, '--out', join(dir, 'single.csv'), '--log-level', 'warn', '--no-history']);
    const t0 = performance.now();
    if ((await single.exited) !== 0) throw new Error(single.stderr());
    const reference = { wallMs: Math.round(performance.now() - t0), peakRssBytes: single.peakRss() };
    const expected = readFileSync(join(dir, 'single.csv'));
    const results = [];
    for (const count of workerCounts) {
      const workers = Array.from({ length: count }, () => start(['worker', '--queue-db', queue, '--db', data, '--log-level', 'info', '--no-history'], { SLUICE_QUEUE_MAINTENANCE_SECONDS: '5' }));
      await Promise.all(workers.map((w) => ready(w, /taking jobs/)));
      const out = join(dir, `parts-${count}.csv`);
      const submitted = start(['submit', 'export-csv', '--queue-db', queue, '--db', data, '--out', out, '--partitions', String(partitions), '--wait']);
      const t1 = performance.now();
      if ((await submitted.exited) !== 0) throw new Error(submitted.stderr());
      const wallMs = Math.round(performance.now() - t1);
      const logs = workers.map((w) => w.stderr());
      const peaks = workers.map((w) => w.peakRss());
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      if (!readFileSync(out).equals(expected)) throw new Error(`${count} worker(s): the joined file differs from the single run's`);
      const queued = Math.min(...logTimes(logs, /partition\(s\) queued/));
      const partsDone = logTimes(logs, /"msg":"partition \d+\/\d+ of run/);
      const partsStarted = logTimes(logs, /"partition":1,.*"msg":"progress"|"partition":\d+,.*"rows":/);
      const done = Math.max(...logTimes(logs, /rows in \d+ partitions ->/));
      const lastPart = Math.max(...partsDone);
      results.push({
        workers: count,
        partitions,
        wallMs,
        vsSingleRun: Number((wallMs / reference.wallMs).toFixed(2)),
        workerPeakRssBytes: peaks,
        partitionsMs: lastPart - queued,
        // The coordinator looks at its partitions every 0.5 s: up to that is in here too.
        noticeAndAssemblyMs: done - lastPart,
        queueAndPlanMs: wallMs - (done - queued),
        firstPartitionProgressAfterQueuedMs: partsStarted.length ? Math.min(...partsStarted) - queued : undefined,
        identical: true,
      });
      rmSync(out, { force: true });
    }
    process.stdout.write(`${JSON.stringify({ rows, reference, results }, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await withAdmin(undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${queueDb} WITH (FORCE)`));
  }
}

await main();
