import { type ChildProcess, execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluice } from '../support/cli.ts';
import { scratchDir } from '../support/sqlite.ts';

const dir = scratchDir();
const db = `sqlite:${dir.file('tickets.db')}`;

beforeAll(async () => {
  const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', db, '--count', '5000', '--reset', '--log-level', 'warn']);
  if (code !== 0) throw new Error(stderr);
});
afterAll(() => dir.remove());

describe('sluice run --parallel', () => {
  it('reads with N readers, writes the bytes of one, and says how many ran and why', async () => {
    const one = await sluice(['run', 'export-all-tickets', '--db', db, '--out', dir.file('one.tsv'), '--log-level', 'warn']);
    expect(one.code).toBe(0);
    const three = await sluice(['run', 'export-all-tickets', '--db', db, '--out', dir.file('three.tsv'), '--parallel', '3', '--metrics', dir.file('m.json')]);
    expect(three.code, three.stderr).toBe(0);
    expect(readFileSync(dir.file('three.tsv')).equals(readFileSync(dir.file('one.tsv')))).toBe(true);
    expect(three.stderr).toContain('3 reader(s): 3 worker threads in one WAL snapshot');
    const metrics = JSON.parse(readFileSync(dir.file('m.json'), 'utf8'));
    expect(metrics.notes.readers).toMatchObject({ count: 3, asked: 3 });
  });

  it('takes no checkpoints with several readers, and refuses to resume with them', async () => {
    const two = await sluice(['run', 'export-csv', '--db', db, '--out', dir.file('two.csv'), '--parallel', '2', '--checkpoint-rows', '1000', '--metrics', dir.file('two.json'), '--log-level', 'warn']);
    expect(two.code, two.stderr).toBe(0);
    expect(JSON.parse(readFileSync(dir.file('two.json'), 'utf8')).notes).toMatchObject({ checkpoints: 'off: parallel readers take none', readers: { count: 2 } });
    const resumed = await sluice(['run', 'export-csv', '--db', db, '--out', dir.file('two.csv'), '--parallel', '2', '--resume']);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain('cannot resume: a resumed export reads with one reader; leave out --parallel.');
  });

  it('refuses a reader count out of range', async () => {
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', db, '--out', dir.file('x.csv'), '--parallel', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--parallel/);
  });

  it('refuses an unknown SLUICE_READ_AHEAD before any reader starts, and leaves no file', async () => {
    const out = dir.file('read-ahead.csv');
    const { code, stderr } = await sluice(['run', 'export-csv', '--db', db, '--out', out, '--parallel', '2'], { env: { SLUICE_READ_AHEAD: 'sometimes' } });
    expect(code).toBe(2);
    expect(stderr.toString()).toContain('SLUICE_READ_AHEAD must be one of idle, always, never, not "sometimes"');
    expect(existsSync(out)).toBe(false);
  });

  it('describes which pipelines can read in parallel', async () => {
    const csv = await sluice(['describe', 'export-csv']);
    expect(csv.stdout.toString()).toContain('readers:    1, or with --parallel N');
    const xlsx = await sluice(['describe', 'export-xlsx']);
    expect(xlsx.stdout.toString()).toContain('readers:    1, or on SQLite with --parallel N up to N over key ranges of one snapshot, joined in key order (the same sheets)');
    const migration = await sluice(['describe', 'migrate-8digit-barcodes']);
    expect(migration.stdout.toString()).not.toContain('readers:');
  });
});

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('Ctrl-C during a parallel export', () => {
  const big = `sqlite:${dir.file('big.db')}`;
  beforeAll(async () => {
    // Parts of more than 1 MiB each, so that the later ones spill while the first is held up.
    const { code, stderr } = await sluice(['run', 'seed-tickets', '--db', big, '--count', '40000', '--reset', '--log-level', 'warn']);
    if (code !== 0) throw new Error(stderr);
  });

  it.each([1, 2])('removes every spill file after %i SIGINT(s)', async (signals) => {
    const tmp = scratchDir();
    try {
      // A FIFO nobody drains: the first part blocks, the others spill, told to read ahead whatever waits
      // (into TMPDIR: a FIFO has no folder of its own to spill beside).
      const fifo = `${tmp.path}/out.csv`;
      execFileSync('mkfifo', [fifo]);
      const reader = createReadStream(fifo);
      reader.once('data', () => reader.pause());
      let child: ChildProcess | undefined;
      const spills = () => readdirSync(tmp.path).filter((f) => f.endsWith('.spill'));
      const running = sluice(['run', 'export-csv', '--db', big, '--out', fifo, '--parallel', '3', '--log-level', 'warn'], { env: { TMPDIR: tmp.path, SLUICE_READ_AHEAD: 'always' }, onSpawn: (c) => (child = c) });
      expect(await waitFor(() => spills().length > 0, 20_000)).toBe(true);
      for (let i = 0; i < signals; i++) child!.kill('SIGINT');
      const { code } = await running;
      reader.destroy();
      expect(code).toBe(130);
      expect(spills()).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
