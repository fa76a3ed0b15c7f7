import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';
import { BIN, type CliResult, sluice } from '../support/cli.ts';
import { type ScratchDatabase, adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';

/** Output files that are not ours, or not whole: devices, FIFOs, links, permissions, concurrent runs, signals, full disks. */
const dir = scratchDir('sluice-out-');
const db = `sqlite:${dir.file('t.db')}`;
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase | undefined;
const QUIET = ['--log-level', 'warn'];

async function expectOk(result: Promise<CliResult>): Promise<CliResult> {
  const done = await result;
  expect(done.code, done.stderr).toBe(0);
  return done;
}

/** What a run writes for these arguments, to a fresh file. */
async function reference(name: string, args: string[]): Promise<Buffer> {
  const out = dir.file(`ref-${name}`);
  await expectOk(sluice([...args, '--out', out, ...QUIET]));
  return readFileSync(out);
}

function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const poll = () => (check() ? resolve(true) : Date.now() > deadline ? resolve(false) : setTimeout(poll, 10));
    poll();
  });
}

beforeAll(async () => {
  await expectOk(sluice(['run', 'seed-tickets', '--db', db, '--count', '30000', ...QUIET]));
  if (pgOk) {
    scratch = await createScratchDatabase();
    await expectOk(sluice(['run', 'seed-tickets', '--db', scratch.url, '--count', '100000', ...QUIET]));
  }
}, 120_000);

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

describe('--out onto things that are not plain files', () => {
  it('writes straight into /dev/null and leaves it a device', async () => {
    await expectOk(sluice(['run', 'export-all-barcodes', '--db', db, '--out', '/dev/null', ...QUIET]));
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(partFilesOf('/dev/null')).toEqual([]);
  });

  it('writes into a FIFO for its reader, and leaves the FIFO a FIFO', async () => {
    const fifo = dir.file('pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const received: Buffer[] = [];
    const reading = new Promise<void>((resolve, reject) => {
      const stream = createReadStream(fifo);
      stream.on('data', (chunk) => received.push(chunk as Buffer));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    await expectOk(sluice(['run', 'export-all-barcodes', '--db', db, '--out', fifo, ...QUIET]));
    await reading;
    expect(Buffer.concat(received).equals(await reference('barcodes.txt', ['run', 'export-all-barcodes', '--db', db]))).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('writes through a symlink to its target, replacing the target and keeping the link', async () => {
    const target = dir.file('real.csv');
    const link = dir.file('link.csv');
    writeFileSync(target, 'old\n');
    symlinkSync('real.csv', link);
    await expectOk(sluice(['run', 'number-barcode', '--db', db, '--out', link, ...QUIET]));
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('real.csv');
    expect(readFileSync(target).equals(await reference('nb.csv', ['run', 'number-barcode', '--db', db]))).toBe(true);
    expect(partFilesOf(target)).toEqual([]);
    expect(partFilesOf(link)).toEqual([]);
  });

  it('creates the missing target of a dangling symlink', async () => {
    const link = dir.file('dangling.csv');
    symlinkSync('sub/created.csv', link);
    await expectOk(sluice(['run', 'number-barcode', '--db', db, '--out', link, ...QUIET]));
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(dir.file('sub/created.csv'), 'utf8')).toMatch(/^ticket_number,barcode\n/);
  });

  it('never writes through a symlink planted at the old part-file name', async () => {
    const victim = dir.file('victim.txt');
    writeFileSync(victim, 'precious\n');
    const out = dir.file('planted.csv');
    symlinkSync(victim, `${out}.part`);
    await expectOk(sluice(['run', 'number-barcode', '--db', db, '--out', out, ...QUIET]));
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(out, 'utf8')).toMatch(/^ticket_number,barcode\n/);
  });
});

describe('--out that cannot work fails before the run', () => {
  it('refuses a directory at --out before even opening the database', async () => {
    mkdirSync(dir.file('a-folder'));
    const result = await sluice(['run', 'export-csv', '--db', dir.file('missing.db'), '--out', dir.file('a-folder')]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`sluice: --out ${dir.file('a-folder')} is a directory: give a file path.`);
  });

  it('refuses a directory at --metrics before the run, and creates a missing folder for it', async () => {
    const refused = await sluice(['run', 'export-csv', '--db', dir.file('missing.db'), '--out', dir.file('m.csv'), '--metrics', dir.path]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`--metrics ${dir.path} is a directory`);
    expect(existsSync(dir.file('m.csv'))).toBe(false);
    const metrics = dir.file('new/folder/metrics.json');
    await expectOk(sluice(['run', 'export-csv', '--db', db, '--out', dir.file('m.csv'), '--metrics', metrics, ...QUIET]));
    expect(JSON.parse(readFileSync(metrics, 'utf8'))).toMatchObject({ pipeline: 'export-csv', status: 'succeeded', rows: 30000 });
  });

  it('refuses a path under a file', async () => {
    writeFileSync(dir.file('plain'), 'x');
    const result = await sluice(['run', 'export-csv', '--db', db, '--out', dir.file('plain/x.csv')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not a folder');
  });
});

describe('permissions', () => {
  it('keeps the permission bits of a replaced file (0600 stays 0600)', async () => {
    const out = dir.file('private.csv');
    writeFileSync(out, 'old\n');
    chmodSync(out, 0o600);
    await expectOk(sluice(['run', 'export-csv', '--db', db, '--out', out, ...QUIET]));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toMatch(/^id,/);
  });

  it('creates a new file with the process umask', () => {
    const out = dir.file('umask.csv');
    const command = `umask 027 && exec "${process.execPath}" ${NODE_FLAGS.join(' ')} "${BIN}" run number-barcode --db "${db}" --out "${out}" --log-level warn`;
    const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
    expect(result.status, result.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o640);
  });
});

describe('two runs writing the same --out at once', () => {
  it('leave exactly one run’s whole output (the last to finish), never a mix', async () => {
    const sold = await reference('sold.csv', ['run', 'export-csv', '--db', db, '--status', 'sold']);
    const available = await reference('available.csv', ['run', 'export-csv', '--db', db, '--status', 'available']);
    const out = dir.file('shared.csv');
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([
        sluice(['run', 'export-csv', '--db', db, '--status', 'sold', '--out', out, '--batch-size', '100', ...QUIET]),
        sluice(['run', 'export-csv', '--db', db, '--status', 'available', '--out', out, '--batch-size', '100', ...QUIET]),
      ]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const result = readFileSync(out);
      expect(result.equals(sold) || result.equals(available), `round ${round}: ${result.length} bytes, neither whole output`).toBe(true);
      expect(partFilesOf(out)).toEqual([]);
    }
  });
});

describe('signals', () => {
  it('a second Ctrl-C during the cleanup still leaves no part file', async () => {
    for (let round = 0; round < 6; round++) {
      const out = dir.file(`twice-${round}.tsv`);
      const result = await sluice(['run', 'export-all-tickets', '--db', db, '--out', out, '--batch-size', '50'], {
        onSpawn: (child) => {
          void waitFor(() => partFilesOf(out).length > 0, 10_000).then(() => child.kill('SIGINT'));
          // Signals do not queue: the second goes once the first has been handled, in the middle of the cleanup.
          child.stderr!.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('signal again to exit at once')) child.kill('SIGINT');
          });
        },
      });
      expect(result.code, result.stderr).toBe(130);
      expect(partFilesOf(out)).toEqual([]);
      expect(existsSync(out)).toBe(false);
    }
  });

  it.skipIf(!pgOk)('a second Ctrl-C exits at once while the first one waits on the database (a pre-flight blocked by a lock)', async () => {
    const { default: pg } = await import('pg');
    const locker = new pg.Client({ connectionString: scratch!.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE');
      let secondAt = 0;
      const result = await sluice(['run', 'migrate-8digit-barcodes', '--db', scratch!.url, '--dry-run'], {
        onSpawn: (child) => {
          // The first Ctrl-C once the run waits on the lock (a fixed delay raced a slow start-up on a loaded machine).
          const blocked = async () => Number((await adminQuery<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [scratch!.name]))[0]!.n) > 0;
          void (async () => {
            for (const end = Date.now() + 20_000; Date.now() < end && !(await blocked()); ) await new Promise((r) => setTimeout(r, 50));
            child.kill('SIGINT');
          })();
          child.stderr!.on('data', (chunk: Buffer) => {
            if (!chunk.toString().includes('signal again to exit at once')) return;
            setTimeout(() => {
              secondAt = Date.now();
              child.kill('SIGINT');
            }, 300);
          });
        },
      });
      expect(result.code, result.stderr).toBe(130);
      expect(secondAt).toBeGreaterThan(0);
      expect(Date.now() - secondAt).toBeLessThan(1500);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
  });

  it('one Ctrl-C ends a run writing to a FIFO that nobody reads, at once (no thread left blocked in open)', async () => {
    const fifo = dir.file('unread');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'run', 'export-all-barcodes', '--db', db, '--out', fifo], { stdio: 'ignore', env: { ...process.env, DATABASE_URL: '' } });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(child.exitCode).toBeNull();
    const signalledAt = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - signalledAt).toBeLessThan(2000);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
});

describe.skipIf(!pgOk)('a run that fails mid-stream', () => {
  it('leaves an existing output file untouched and no part file (PostgreSQL backend terminated mid-export)', async () => {
    const out = dir.file('keep.csv');
    writeFileSync(out, 'previous complete export\n');
    const result = await sluice(['run', 'export-csv', '--db', scratch!.url, '--out', out, '--batch-size', '100'], {
      onSpawn: () => {
        void waitFor(() => partFilesOf(out).length > 0 && statSync(dir.file(partFilesOf(out)[0]!)).size > 50_000, 20_000).then(() =>
          adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sluice'", [scratch!.name]),
        );
      },
    });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/Lost the connection/);
    expect(readFileSync(out, 'utf8')).toBe('previous complete export\n');
    expect(partFilesOf(out)).toEqual([]);
  });
});

/** Whether this process may mount a small filesystem of its own (root: CI runs as root); a notice when not. */
function canMount(path: string): boolean {
  mkdirSync(path, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', path]).status === 0;
  if (mounted) spawnSync('umount', [path]);
  else process.stderr.write(`\n*** cannot mount a tmpfs at ${path} (not root?): full-disk tests are SKIPPED ***\n\n`);
  return mounted;
}

describe('a full disk', () => {
  const tiny = dir.file('tiny');
  const mounted = canMount(tiny);
  beforeAll(() => {
    if (mounted) expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', tiny]).status).toBe(0);
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', [tiny]);
  });

  it.skipIf(!mounted)('fails the export, keeps the previous file and leaves no part file', async () => {
    const out = `${tiny}/tickets.tsv`;
    writeFileSync(out, 'previous\n');
    const result = await sluice(['run', 'export-all-tickets', '--db', db, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Cannot write .*tickets\.tsv: .*ENOSPC/);
    expect(readFileSync(out, 'utf8')).toBe('previous\n');
    expect(readdirSync(tiny)).toEqual(['tickets.tsv']);
  });

  it.skipIf(!mounted)('fails a migration --backup naming the backup, changes nothing and leaves nothing of the copy', async () => {
    const legacy = `sqlite:${dir.file('legacy.db')}`;
    await expectOk(sluice(['run', 'seed-tickets', '--db', legacy, '--count', '5000', '--legacy-barcodes', ...QUIET]));
    const before = await reference('legacy-before.txt', ['run', 'export-all-barcodes', '--db', legacy]);
    rmSync(`${tiny}/tickets.tsv`, { force: true });
    const backup = `${tiny}/backup.db`;
    const result = await sluice(['run', 'migrate-8digit-barcodes', '--db', legacy, '--backup', backup, ...QUIET]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(new RegExp(`^sluice: Cannot write the backup to ${backup}: .*full.*Nothing was changed in sqlite:.*legacy\\.db\\.$`));
    expect(readdirSync(tiny)).toEqual([]);
    expect((await reference('legacy-after.txt', ['run', 'export-all-barcodes', '--db', legacy])).equals(before)).toBe(true);
  });
});
