/**
 * An app's own pipelines, as a user of the package writes them: a folder outside sluice whose
 * files import 'sluice' (resolved through node_modules, as after `npm install sluice`), one in
 * TypeScript run without a build step, one in plain JavaScript.
 */
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, json } from '../http/client.ts';
import { sluice } from '../support/cli.ts';
import { spawnServer } from '../support/serve.ts';
import { BIN } from '../support/cli.ts';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';
import { scratchDir } from '../support/sqlite.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/shop/', import.meta.url));
const dir = scratchDir('sluice-app-');
const app = dir.path;
const TOKEN = 'an-admin-token-of-the-shop';

const ORDERS: ReadonlyArray<readonly [number, string, number, string]> = [
  [1, 'Ada', 1250, 'paid'],
  [2, 'Bob "B"', 999, 'paid'],
  [3, 'Chloé, Ltd', 5000, 'refunded'],
  [4, '=cmd', 2000, 'paid'],
];

function writeConfig(config: Record<string, unknown> | undefined): void {
  const path = join(app, 'sluice.config.json');
  if (config === undefined) rmSync(path, { force: true });
  else writeFileSync(path, JSON.stringify(config));
}

const inApp = (args: string[], env: NodeJS.ProcessEnv = {}) => sluice(args, { cwd: app, env });

beforeAll(async () => {
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(ROOT, join(app, 'node_modules', 'sluice'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  cpSync(join(FIXTURE, 'app.ts'), join(app, 'app.ts'));
  cpSync(join(FIXTURE, 'pipelines'), join(app, 'pipelines'), { recursive: true });
  cpSync(join(FIXTURE, 'components'), join(app, 'components'), { recursive: true });
  writeConfig({ app: './app.ts' });
  const init = await inApp(['db', 'init']);
  expect(init.stderr).toBe('');
  expect(init.stdout.toString()).toBe('Tables ready in sqlite:data/shop.db\n');
  const db = new Sqlite(join(app, 'data/shop.db'));
  const insert = db.prepare('INSERT INTO orders (id, customer, total_cents, status) VALUES (?, ?, ?, ?)');
  for (const order of ORDERS) insert.run(...order);
  db.close();
});

afterAll(() => dir.remove());

describe("an app's pipelines folder", () => {
  it('is read from --pipelines (TypeScript and JavaScript files) together with the bundled pipelines', async () => {
    writeConfig(undefined);
    const list = await inApp(['list', '--pipelines', 'pipelines']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const names = list.stdout.toString().split('\n').slice(2).map((line) => line.split(' ')[0]);
    expect(names).toEqual(expect.arrayContaining(['orders-csv', 'order-customers', 'export-csv']));
  });

  it('is read from SLUICE_PIPELINES the same way', async () => {
    writeConfig(undefined);
    const described = await inApp(['describe', 'orders-csv'], { SLUICE_PIPELINES: join(app, 'pipelines') });
    expect(described.code).toBe(0);
    expect(described.stdout.toString()).toContain('--min-total');
    expect(described.stdout.toString()).toContain('one of paid, refunded');
  });

  it('without one, the app\'s pipelines are unknown, and the error says so', async () => {
    writeConfig(undefined);
    const run = await inApp(['run', 'orders-csv']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Unknown pipeline "orders-csv"');
  });
});

describe('sluice.config.json naming an app module', () => {
  it("runs the app's TypeScript pipeline on its default database, typed parameters from flags", async () => {
    writeConfig({ app: './app.ts' });
    const all = await inApp(['run', 'orders-csv', '--out', '-', '--log-level', 'warn']);
    expect(all.stderr).toBe('');
    expect(all.stdout.toString()).toBe('id,customer,total\n1,Ada,12.50\n2,"Bob ""B""",9.99\n4,\'=cmd,20.00\n');
    const big = await inApp(['run', 'orders-csv', '--min-total', '1000', '--out', '-', '--log-level', 'warn']);
    expect(big.stdout.toString()).toBe("id,customer,total\n1,Ada,12.50\n4,'=cmd,20.00\n");
    const refunded = await inApp(['run', 'orders-csv', '--status', 'refunded', '--out', '-', '--log-level', 'warn']);
    expect(refunded.stdout.toString()).toBe('id,customer,total\n3,"Chloé, Ltd",50.00\n');
  });

  it('runs its JavaScript pipeline, refuses bad values with the flag named, and says when nothing matched', async () => {
    writeConfig({ app: './app.ts' });
    const txt = await inApp(['run', 'order-customers', '--out', '-', '--log-level', 'warn']);
    expect(txt.stdout.toString()).toBe('Ada\nBob "B"\nChloé, Ltd\n\'=cmd\n');
    const bad = await inApp(['run', 'orders-csv', '--status', 'lost']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--status');
    const none = await inApp(['run', 'orders-csv', '--min-total', '999999', '--out', join(app, 'none.csv')]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('No orders found');
  });

  it("is served by sluice serve: the app's routes and its pipelines by name", async () => {
    writeConfig({ app: './app.ts' });
    const server = await spawnServer([...NODE_FLAGS, BIN, 'serve', '--port', '0', '--log-level', 'warn'], { cwd: app, env: { ADMIN_TOKEN: TOKEN, DATABASE_URL: '' } });
    try {
      const auth = { Authorization: `Bearer ${TOKEN}` };
      const route = await get(`${server.url}/api/admin/orders.csv?minTotal=1000`, auth);
      expect(route.status).toBe(200);
      expect(route.body.toString()).toBe("id,customer,total\n1,Ada,12.50\n4,'=cmd,20.00\n");
      const byName = await get(`${server.url}/api/pipelines/order-customers/output`, auth);
      expect(byName.body.toString()).toBe('Ada\nBob "B"\nChloé, Ltd\n\'=cmd\n');
      const listed = json(await get(`${server.url}/api/pipelines`, auth)) as Array<{ name: string }>;
      expect(listed.map((p) => p.name)).toEqual(expect.arrayContaining(['orders-csv', 'order-customers', 'export-csv']));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('refuses an unknown key, with the nearest known one', async () => {
    writeConfig({ app: './app.ts', pipeline: ['pipelines'] });
    const list = await inApp(['list']);
    expect(list.code).toBe(2);
    expect(list.stderr).toContain('unknown key "pipeline"');
    expect(list.stderr).toContain('Did you mean "pipelines"?');
  });
});

describe("an app's own source, transform and sink", () => {
  it('read JSON lines, mask emails and write NDJSON, with the file named by a parameter of the source', async () => {
    writeConfig({ app: './app.ts' });
    const lines = ['{"id": 1, "email": "ada@example.com"}', '', '{"id": 9007199254740993, "email": null}', '{"id": 3, "email": "no-address"}'];
    writeFileSync(join(app, 'customers.jsonl'), `${lines.join('\n')}\n`);
    const run = await inApp(['run', 'customers-ndjson', '--input', 'customers.jsonl', '--out', '-', '--log-level', 'warn']);
    expect(run.stderr).toBe('');
    // JSON.parse itself rounds 9007199254740993: the source is only as exact as its input's parser.
    expect(run.stdout.toString()).toBe('{"id":1,"email":"a***@example.com"}\n{"id":9007199254740992,"email":null}\n{"id":3,"email":"no-address"}\n');
    const described = await inApp(['describe', 'customers-ndjson']);
    expect(described.stdout.toString()).toContain('source.json-lines');
    expect(described.stdout.toString()).toContain('--input');
  });

  it('fail with the codes and messages of the framework', async () => {
    writeConfig({ app: './app.ts' });
    const missing = await inApp(['run', 'customers-ndjson', '--out', '-']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Name the file to read with --input');
    writeFileSync(join(app, 'bad.jsonl'), '{"id": 1}\n{"id": \n');
    const bad = await inApp(['run', 'customers-ndjson', '--input', 'bad.jsonl', '--out', join(app, 'bad.ndjson')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.jsonl:2: not JSON');
    const absent = await inApp(['run', 'customers-ndjson', '--input', 'absent.jsonl', '--out', '-']);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain('absent.jsonl: cannot be read (ENOENT');
  });
});

describe('mistakes in an app are reported at load, naming the file', () => {
  function withExtraFolder(files: Record<string, string>): string {
    const extra = join(app, `extra-${Object.keys(files)[0]!.replace(/\W/g, '-')}`);
    mkdirSync(extra, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(extra, name), text);
    return extra;
  }

  it('two pipelines of one name', async () => {
    writeConfig({ app: './app.ts' });
    const extra = withExtraFolder({ 'orders-csv.js': "export { default } from '../pipelines/order-customers.js';\n" });
    const renamed = withExtraFolder({ 'export-csv.mjs': (await import('node:fs')).readFileSync(join(app, 'pipelines/order-customers.js'), 'utf8').replace("name: 'order-customers'", "name: 'export-csv'") });
    const named = await inApp(['list', '--pipelines', extra]);
    expect(named.code).toBe(2);
    expect(named.stderr).toContain('defines "order-customers"');
    const clash = await inApp(['list', '--pipelines', renamed]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('Two pipelines are named "export-csv"');
    expect(clash.stderr).toContain(join(renamed, 'export-csv.mjs'));
    expect(clash.stderr).toMatch(new RegExp(`${ROOT}(dist/)?pipelines/export-csv\\.(ts|js)`));
  });

  it('none when a TypeScript pipeline imports from another file of its folder', async () => {
    writeConfig(undefined); // no app.ts: the folder's files are the first TypeScript the CLI loads
    const base = (await import('node:fs')).readFileSync(join(app, 'pipelines/orders-csv.ts'), 'utf8').replace("name: 'orders-csv'", "name: 'orders-base'");
    const extra = withExtraFolder({
      'orders-base.ts': `${base}\nexport const ORDER_COLUMNS = ['id', 'customer'] as const;\n`,
      'orders-more.ts': "import base, { ORDER_COLUMNS } from './orders-base.ts';\nexport default { ...base, name: 'orders-more', description: `Orders, ${ORDER_COLUMNS.length} columns` };\n",
    });
    const list = await inApp(['list', '--pipelines', extra]);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout.toString()).toMatch(/^orders-base /m);
    expect(list.stdout.toString()).toMatch(/^orders-more +csv +Orders, 2 columns/m);
  });

  it('an app whose package is not of "type": "module" is told to make it one', async () => {
    writeConfig(undefined);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
    try {
      const result = await inApp(['list', '--pipelines', 'pipelines']);
      expect(result.code).toBe(2);
      // One line of ours (Node may warn about the JavaScript file before it).
      const line = result.stderr.split('\n').find((l) => l.startsWith('sluice: '));
      expect(line?.startsWith(`sluice: ${join(app, 'pipelines')}/`)).toBe(true);
      expect(line).toMatch(/\.ts: cannot be loaded: it is not an ES module/);
      expect(line).toContain('add "type": "module" to the app\'s package.json, or name the file .mts');
    } finally {
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
    }
  });

  it('a file that does not compile, and a filter on a parameter nobody declared', async () => {
    writeConfig(undefined);
    const broken = withExtraFolder({ 'broken.ts': 'export default definePipeline({ name: "broken", \n' });
    const result = await inApp(['list', '--pipelines', broken]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(broken, 'broken.ts'));
    const typo = withExtraFolder({
      'typo.ts': (await import('node:fs')).readFileSync(join(app, 'pipelines/orders-csv.ts'), 'utf8').replace("name: 'orders-csv'", "name: 'typo'").replace("param: 'status'", "param: 'stauts'"),
    });
    const checked = await inApp(['list', '--pipelines', typo]);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain('reads parameter "stauts", which nothing declares');
    expect(checked.stderr).toContain('Did you mean "status"?');
  });
});
