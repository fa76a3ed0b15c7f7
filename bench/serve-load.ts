import { NODE_FLAGS } from '../bin/node-flags.mjs';
/**
 * Load on `sluice serve`: N concurrent downloads of /api/admin/tickets/export-csv from a
 * PostgreSQL (default) or SQLite database of --rows tickets while /healthz is polled every 50 ms.
 *
 *   npx tsx bench/serve-load.ts [--db postgres|sqlite] [--rows 1000000] [--downloads 8] [--batch-size N] [--server-nice=N] [--reseed] [--drop]
 *
 * The database runs on the same two cores. PostgreSQL makes each backend a session of its own,
 * so Linux's autogroup scheduler gives each of the 8 COPY backends as much CPU as the whole
 * server; `--server-nice=-10` (root only) sets the server's autogroup niceness so that it weighs
 * about as much as the 8 backends together, as a server would on a machine of its own.
 *
 * Prints JSON: the server's peak RSS (VmHWM), /healthz latency p50/p99/max, wall time and bytes
 * per download (every download must be complete and of the same size). Target: /healthz p99 <
 * 50 ms and max < 200 ms with 8 concurrent full downloads, on either database.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { adminUrl } from '../test/support/postgres.ts';
import { TOKEN, startServe } from './serve-process.ts';

const BIN = fileURLToPath(new URL('../bin/sluice.mjs', import.meta.url));
const HEALTHZ_INTERVAL_MS = 50;

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    rows: { type: 'string', default: '1000000' },
    downloads: { type: 'string', default: '8' },
    reseed: { type: 'boolean', default: false },
    drop: { type: 'boolean', default: false },
    'batch-size': { type: 'string' },
    'server-nice': { type: 'string' },
  },
});
const rows = Number(values.rows!.replace(/[_,]/g, ''));
const count = Number(values.downloads);
if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(count) || count < 1) throw new Error('--rows and --downloads must be positive integers');

if (values.db !== 'postgres' && values.db !== 'sqlite') throw new Error('--db must be postgres or sqlite');
const engine = values.db;
const dbName = `sluice_bench_serve_${rows}`;
const sqlitePath = fileURLToPath(new URL(`./.data/serve-${rows}.db`, import.meta.url));
const dbUrl = (() => {
  if (engine === 'sqlite') return `sqlite:${sqlitePath}`;
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

function seed(): void {
  process.stderr.write(`seeding ${rows} tickets into ${dbUrl} ...\n`);
  const seeded = spawnSync(process.execPath, [...NODE_FLAGS, BIN, 'run', 'seed-tickets', '--db', dbUrl, '--count', String(rows), '--reset', '--log-level', 'warn'], { stdio: 'inherit' });
  if (seeded.status !== 0) throw new Error(`seeding failed with exit code ${seeded.status}`);
}

/** A SQLite file left by an earlier run with the right count is reused. */
function ensureSeededSqlite(): void {
  let have = -1;
  if (!values.reseed && existsSync(sqlitePath)) {
    const probe = spawnSync('sqlite3', [sqlitePath, 'SELECT count(*) FROM tickets'], { encoding: 'utf8' });
    have = probe.status === 0 ? Number(probe.stdout.trim()) : -1;
  }
  if (have !== rows) seed();
}

/** Seeds once; a database left by an earlier run with the right count is reused. */
async function ensureSeeded(): Promise<void> {
  if (engine === 'sqlite') return ensureSeededSqlite();
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
  seed();
  await withClient(dbUrl, (c) => c.query('VACUUM ANALYZE tickets'));
}

/**
 * The downloads, in processes of their own (curl, in one session started for them): this
 * process, which measures /healthz, does nothing else, and the clients share the CPU as one
 * group (the scheduler's autogroup) beside the server's and the database's, as clients on other
 * machines would not take the server's share. Resolves with each body's size; rejects on an
 * incomplete transfer (curl's --fail and exit code).
 */
function downloads(url: string, count: number): Promise<number[]> {
  const curl = `curl --silent --show-error --fail --output /dev/null --write-out '%{size_download}\\n' --header 'Authorization: Bearer ${TOKEN}' '${url}'`;
  const script = `for i in $(seq ${count}); do ${curl} & done; fail=0; for job in $(jobs -p); do wait $job || fail=1; done; exit $fail`;
  return new Promise((resolve, reject) => {
    const shell = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    shell.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    shell.on('error', reject);
    shell.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map(Number)) : reject(new Error(`a download failed (${code}): ${err.trim()}`))));
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

/** The server's autogroup niceness (see the header): its share of the CPU against other sessions. */
function setServerNice(pid: number): number | undefined {
  const nice = values['server-nice'];
  if (nice === undefined) return undefined;
  writeFileSync(`/proc/${pid}/autogroup`, nice);
  return Number(/nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]);
}

async function main(): Promise<void> {
  await ensureSeeded();
  const server = await startServe(dbUrl, ['--max-concurrent', String(count)]);
  const { child, base } = server;
  const serverAutogroupNice = setServerNice(child.pid!);
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
    const sizes = await downloads(`${base}/api/admin/tickets/export-csv${query}`, count);
    const wallMs = Math.round(performance.now() - start);
    polling = false;
    await poller;
    agent.destroy();
    if (new Set(sizes).size !== 1) throw new Error(`downloads differ in size: ${sizes.join(', ')}`);
    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      database: engine,
      rows,
      downloads: count,
      batchSize: values['batch-size'] ? Number(values['batch-size']) : 'server default',
      serverAutogroupNice: serverAutogroupNice ?? 'default (0)',
      serverPeakRssBytes: server.peakRss(),
      healthzSamples: sorted.length,
      healthzP50Ms: Number(percentile(sorted, 50).toFixed(1)),
      healthzP99Ms: Number(percentile(sorted, 99).toFixed(1)),
      healthzMaxMs: Number(sorted[sorted.length - 1]!.toFixed(1)),
      wallMs,
      bytesPerDownload: sizes[0],
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.stop();
    if (values.drop && engine === 'postgres') await withClient(adminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  }
}

await main();
