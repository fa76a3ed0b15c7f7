import { NODE_FLAGS } from '../bin/node-flags.mjs';
/**
 * Load on `sluice serve`: N concurrent downloads of /api/admin/tickets/export-csv from a
 * PostgreSQL database of --rows tickets while /healthz is polled every 50 ms.
 *
 *   npx tsx bench/serve-load.ts [--rows 1000000] [--downloads 8] [--batch-size N] [--reseed] [--drop]
 *
 * Prints JSON: the server's peak RSS (VmHWM), /healthz latency p50/p99, wall time and bytes per
 * download (every download must be complete and of the same size).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { adminUrl } from '../test/support/postgres.ts';

const BIN = fileURLToPath(new URL('../bin/sluice.mjs', import.meta.url));
const TOKEN = 'bench-serve-load-token';
const HEALTHZ_INTERVAL_MS = 50;

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    downloads: { type: 'string', default: '8' },
    reseed: { type: 'boolean', default: false },
    drop: { type: 'boolean', default: false },
    'batch-size': { type: 'string' },
  },
});
const rows = Number(values.rows!.replace(/[_,]/g, ''));
const downloads = Number(values.downloads);
if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(downloads) || downloads < 1) throw new Error('--rows and --downloads must be positive integers');

const dbName = `sluice_bench_serve_${rows}`;
const dbUrl = (() => {
  const url = new URL(adminUrl());
  url.pathname = `/${dbName}`;
  return url.toString();
})();

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Seeds once; a database left by an earlier run with the right count is reused. */
async function ensureSeeded(): Promise<void> {
  const exists = await withClient(adminUrl(), async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName])).rowCount === 1);
  if (!exists) await withClient(adminUrl(), (c) => c.query(`CREATE DATABASE ${dbName}`));
  const have = values.reseed
    ? -1
    : await withClient(dbUrl, async (c) => {
        try {
          return Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM tickets')).rows[0]!.n);
        } catch {
          return -1;
        }
      });
  if (have === rows) return;
  process.stderr.write(`seeding ${rows} tickets into ${dbName} ...\n`);
  const seed = spawnSync(process.execPath, [...NODE_FLAGS, BIN, 'run', 'seed-tickets', '--db', dbUrl, '--count', String(rows), '--reset', '--log-level', 'warn'], { stdio: 'inherit' });
  if (seed.status !== 0) throw new Error(`seeding failed with exit code ${seed.status}`);
  await withClient(dbUrl, (c) => c.query('VACUUM ANALYZE tickets'));
}

function startServer(): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'serve', '--port', '0', '--db', dbUrl, '--max-concurrent', String(downloads), '--log-level', 'warn'], {
    env: { ...process.env, ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.once('exit', (code) => reject(new Error(`sluice serve exited with ${code}: ${stderr}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const base = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (base) resolve({ child, base });
    });
  });
}

/** Downloads and discards the body; resolves with its size, rejects on an incomplete transfer. */
function download(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { Authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => (res.complete ? resolve(bytes) : reject(new Error('incomplete transfer'))));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function healthz(url: string, agent: Agent): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - start) : reject(new Error(`healthz ${res.statusCode}`))));
    }).on('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

async function main(): Promise<void> {
  await ensureSeeded();
  const { child, base } = await startServer();
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const latencies: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        latencies.push(await healthz(`${base}/healthz`, agent));
        await new Promise((resolve) => setTimeout(resolve, HEALTHZ_INTERVAL_MS));
      }
    })();
    const start = performance.now();
    const query = values['batch-size'] ? `?batchSize=${values['batch-size']}` : '';
    const sizes = await Promise.all(Array.from({ length: downloads }, () => download(`${base}/api/admin/tickets/export-csv${query}`)));
    const wallMs = Math.round(performance.now() - start);
    polling = false;
    await poller;
    agent.destroy();
    if (new Set(sizes).size !== 1) throw new Error(`downloads differ in size: ${sizes.join(', ')}`);
    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      rows,
      downloads,
      batchSize: values['batch-size'] ? Number(values['batch-size']) : 'server default',
      serverPeakRssBytes: peakRss(child.pid!),
      healthzSamples: sorted.length,
      healthzP50Ms: Number(percentile(sorted, 50).toFixed(1)),
      healthzP99Ms: Number(percentile(sorted, 99).toFixed(1)),
      healthzMaxMs: Number(sorted[sorted.length - 1]!.toFixed(1)),
      wallMs,
      bytesPerDownload: sizes[0],
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    if (values.drop) await withClient(adminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  }
}

await main();
