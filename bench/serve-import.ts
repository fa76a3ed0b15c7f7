/**
 * An import over HTTP at two sizes: `sluice serve` takes the tickets' own CSV export as the body
 * of POST /api/admin/tickets/import, into an empty tickets table, streamed as it arrives. The
 * server's peak RSS (VmHWM) must not grow with the body: target ≤ 1.15x from the small size to
 * the large one, and < 150 MB.
 *
 *   npx tsx bench/serve-import.ts [--db sqlite|postgres] [--rows 100000,1000000]
 *
 * The body is sent by curl from the file (`-T`: streamed, not read into memory first). Prints
 * JSON: per size the wall time, the server's peak RSS and the answer's counts; then the ratio.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Engine, dropScratch, emptyTemplate, ensureImportFile, freshEmptyCopy } from './datasets.ts';
import { TOKEN, startServe } from './serve-process.ts';

const { values } = parseArgs({ options: { db: { type: 'string', default: 'postgres' }, rows: { type: 'string', default: '100000,1000000' } } });
if (values.db !== 'postgres' && values.db !== 'sqlite') throw new Error('--db must be postgres or sqlite');
const engine: Engine = values.db === 'postgres' ? 'pg' : 'sqlite';
const sizes = values.rows!.split(',').map((n) => Number(n.replace(/[_,]/g, '')));
if (sizes.length !== 2 || !sizes.every((n) => Number.isSafeInteger(n) && n > 0)) throw new Error('--rows takes two sizes, e.g. 100000,1000000');

/** POSTs the file with curl; resolves with the JSON answer, rejects on a non-200 status. */
function upload(url: string, file: string): Promise<Record<string, unknown>> {
  const args = ['--silent', '--show-error', '--fail-with-body', '-X', 'POST', '-T', file, '-H', `Authorization: Bearer ${TOKEN}`, '-H', 'Content-Type: text/csv', url];
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    curl.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    curl.on('error', reject);
    curl.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`the upload failed (curl ${code}): ${err.trim()} ${out}`))));
  });
}

async function importOnce(rows: number, template: string, dir: string) {
  const file = ensureImportFile(rows);
  const scratch = engine === 'sqlite' ? join(dir, 'target.db') : `sluice_bench_import_scratch_${process.pid}`;
  const url = await freshEmptyCopy(engine, template, scratch);
  const server = await startServe(url);
  try {
    const start = performance.now();
    const answer = await upload(`${server.base}/api/admin/tickets/import`, file);
    const wallMs = Math.round(performance.now() - start);
    if (answer.rows !== rows) throw new Error(`the server imported ${String(answer.rows)} rows of ${rows}: ${JSON.stringify(answer)}`);
    return { rows, bodyBytes: statSync(file).size, wallMs, serverPeakRssBytes: server.peakRss(), answer: { rows: answer.rows, import: answer.import, rejected: answer.rejected } };
  } finally {
    await server.stop();
    await dropScratch(engine, scratch);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-import-'));
const template = await emptyTemplate(engine, dir);
try {
  const runs = [];
  for (const rows of sizes) runs.push(await importOnce(rows, template, dir));
  const ratio = runs[1]!.serverPeakRssBytes / runs[0]!.serverPeakRssBytes;
  process.stdout.write(`${JSON.stringify({ database: engine === 'pg' ? 'postgres' : 'sqlite', runs, peakRssRatio: Number(ratio.toFixed(3)), met: ratio <= 1.15 && runs[1]!.serverPeakRssBytes < 150 * 2 ** 20 }, null, 2)}\n`);
} finally {
  if (engine === 'pg') await dropScratch(engine, template);
  rmSync(dir, { recursive: true, force: true });
}
