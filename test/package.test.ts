/**
 * sluice as a dependency: the packed tarball installed into a fresh app, whose TypeScript and
 * JavaScript pipelines and Express/node:http server compile with tsc at default strictness
 * (no skipLibCheck, no @types for sluice's drivers) and run from the CLI and over HTTP.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from './http/client.ts';
import { sluice } from './support/cli.ts';
import { scratchDir } from './support/sqlite.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/shop');
const dir = scratchDir('sluice-package-');
const app = dir.path;
const TOKEN = 'the-shop-admin-token';

/** The version this checkout uses of a package, so that npm finds it in its cache. */
function versionOf(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The installed package's CLI, run as an app runs it (`npx sluice`: the bin of node_modules/.bin). */
const installed = (args: string[]) => sluice(args, { cwd: app, bin: join(app, 'node_modules/.bin/sluice') });

beforeAll(() => {
  // dist/ is built by the global setup; `prepare` would build it again.
  const [{ filename }] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', app], ROOT)) as Array<{ filename: string }>;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  const tools = ['express', '@types/express', '@types/node', 'typescript'].map((name) => `${name}@${versionOf(name)}`);
  // Scripts off: better-sqlite3's native build is copied from this checkout rather than compiled again.
  npm(['install', join(app, filename), ...tools, '--prefer-offline', '--ignore-scripts'], app);
  cpSync(join(ROOT, 'node_modules/better-sqlite3/build'), join(app, 'node_modules/better-sqlite3/build'), { recursive: true });
  for (const file of ['app.ts', 'server.ts', 'tsconfig.json', 'pipelines', 'components']) cpSync(join(FIXTURE, file), join(app, file), { recursive: true });
  writeFileSync(join(app, 'sluice.config.json'), JSON.stringify({ app: './app.ts' }));
}, 180_000);

afterAll(() => dir.remove());

describe('the packed package in a fresh app', () => {
  it('ships no driver types to the app: its .d.ts files compile at default strictness without @types for pg or better-sqlite3', () => {
    const types = execFileSync('npm', ['ls', '--all', '--parseable'], { cwd: app, encoding: 'utf8' });
    expect(types).not.toMatch(/@types\/(pg|better-sqlite3)\b/);
    const tsc = join(app, 'node_modules/typescript/bin/tsc');
    const result = spawnSyncText(process.execPath, [tsc, '-p', '.'], app);
    expect(result.output, result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('prints its version, lists and runs the app\'s TypeScript and JavaScript pipelines with the bundled ones', async () => {
    const version = await installed(['--version']);
    expect(version.stdout.toString()).toBe(`${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    const init = await installed(['db', 'init']);
    expect(init.stdout.toString()).toBe('Tables ready in sqlite:data/shop.db\n');
    const db = new Sqlite(join(app, 'data/shop.db'));
    db.exec("INSERT INTO orders VALUES (1, 'Ada', 1250, 'paid'), (2, 'Bob', 999, 'paid'), (3, 'Chloé, Ltd', 5000, 'refunded')");
    db.close();
    const list = await installed(['list']);
    expect(list.stdout.toString()).toMatch(/^orders-csv +csv/m);
    expect(list.stdout.toString()).toMatch(/^order-customers +txt/m);
    expect(list.stdout.toString()).toMatch(/^export-csv +csv/m);
    const csv = await installed(['run', 'orders-csv', '--min-total', '1000', '--out', '-', '--log-level', 'warn']);
    expect(csv.stderr).toBe('');
    expect(csv.stdout.toString()).toBe('id,customer,total\n1,Ada,12.50\n');
    const txt = await installed(['run', 'order-customers', '--out', 'out/customers.txt', '--log-level', 'warn']);
    expect(txt.code).toBe(0);
    expect(readFileSync(join(app, 'out/customers.txt'), 'utf8')).toBe('Ada\nBob\nChloé, Ltd\n');
  });

  it("serves the app's pipelines from its compiled Express and node:http server", async () => {
    const server = spawn(process.execPath, ['build/server.js'], { cwd: app, env: { ...process.env, DATABASE_URL: 'sqlite:data/shop.db', ADMIN_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(server.stdout, 'data')) as [Buffer];
      const ports = JSON.parse(line.toString()) as { express: number; plain: number };
      const auth = { Authorization: `Bearer ${TOKEN}` };
      const express = `http://127.0.0.1:${ports.express}`;
      expect((await get(`${express}/admin/orders.csv`)).status).toBe(401);
      const orders = await get(`${express}/admin/orders.csv`, auth);
      expect(orders.status).toBe(200);
      expect(orders.headers['content-disposition']).toMatch(/^attachment; filename="orders-csv-\d{4}-\d{2}-\d{2}\.csv"$/);
      expect(orders.body.toString()).toBe('id,customer,total\n1,Ada,12.50\n');
      expect((await get(`${express}/admin/orders.csv?minTotal=5`, auth)).status).toBe(400);
      const customers = await get(`${express}/admin/customers.txt`, auth);
      expect(customers.body.toString()).toBe('Ada\nBob\nChloé, Ltd\n');
      const refunds = await get(`http://127.0.0.1:${ports.plain}/refunds.csv`);
      expect(refunds.body.toString()).toBe('id,customer,total\n3,"Chloé, Ltd",50.00\n');
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });
});

function spawnSyncText(command: string, args: string[], cwd: string): { status: number | null; output: string } {
  try {
    return { status: 0, output: execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const failed = error as { status: number | null; stdout?: string; stderr?: string };
    return { status: failed.status, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}
