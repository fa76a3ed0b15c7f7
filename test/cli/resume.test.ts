import { copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/index.ts';
import { loadPipelines, pipelineNamed } from '../../src/core/registry.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import { describeText } from '../../src/cli/describe.ts';
import { bundledPipeline } from '../support/app.ts';
import { withDatabase } from '../support/tickets.ts';
import { type CliResult, sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';

/**
 * Resume after SIGKILL: runs killed at random points of their output, then resumed, write the
 * same bytes as runs never interrupted, on SQLite (the worker thread) and PostgreSQL (COPY), and
 * on the row path (transforms between source and sink: a cursor, rows on the main thread).
 */
const dir = scratchDir('sluice-resume-');
const sqliteUrl = `sqlite:${dir.file('t.db')}`;
const pgOk = await postgresAvailable();
let scratch: ScratchDatabase | undefined;
const QUIET = ['--log-level', 'warn'];
const FIXTURES = fileURLToPath(new URL('../fixtures/resume', import.meta.url));
const ROWS = 60_000;
/** Small slices, so that a kill lands among many checkpoints, and mostly between two. */
const EVERY = ['--checkpoint-rows', '2000'];

async function expectCode(result: Promise<CliResult>, code: number): Promise<CliResult> {
  const done = await result;
  expect(done.code, done.stderr).toBe(code);
  return done;
}

function checkpointsOf(out: string): string[] {
  return partFilesOf(out).map((part) => `${part}.checkpoint`).filter((name) => existsSync(dir.file(name)));
}

/** The part file's size and its checkpoint's recorded length, after a kill. */
function leftover(out: string): { size: number; bytes: number } {
  const [part] = partFilesOf(out);
  expect(part, 'a part file left by the killed run').toBeDefined();
  const checkpoint = JSON.parse(readFileSync(dir.file(`${part}.checkpoint`), 'utf8')) as { bytes: number };
  return { size: statSync(dir.file(part!)).size, bytes: checkpoint.bytes };
}

/**
 * Runs the CLI and SIGKILLs it once its part file holds `atBytes`: a crash, with no cleanup.
 * Resolves to whether the kill landed (a run may finish first).
 */
async function killAt(args: string[], out: string, atBytes: number): Promise<boolean> {
  const result = await sluice(args, {
    onSpawn: (child) => {
      const poll = setInterval(() => {
        const [part] = partFilesOf(out);
        if (part === undefined) return;
        try {
          if (statSync(dir.file(part)).size < atBytes) return;
        } catch {
          return;
        }
        clearInterval(poll);
        child.kill('SIGKILL');
      }, 2);
      child.on('exit', () => clearInterval(poll));
    },
  });
  if (result.signal === 'SIGKILL') return true;
  expect(result.code, result.stderr).toBe(0);
  return false;
}

/** Kills a run at a random point of its output (retrying earlier when it finished first), then resumes it; returns the resumed file. */
async function killAndResume(args: string[], out: string, size: number): Promise<{ file: Buffer; truncated: boolean }> {
  let landed = false;
  for (let tries = 0; tries < 4 && !landed; tries++) {
    const fraction = (0.1 + Math.random() * 0.6) / (tries + 1);
    landed = await killAt([...args, '--out', out, ...EVERY, ...QUIET], out, Math.floor(size * fraction));
  }
  expect(landed, 'a kill landed before the run finished').toBe(true);
  const { size: partSize, bytes } = leftover(out);
  expect(existsSync(out)).toBe(false);
  await expectCode(sluice([...args, '--out', out, ...EVERY, '--resume', ...QUIET]), 0);
  expect(partFilesOf(out)).toEqual([]);
  expect(checkpointsOf(out)).toEqual([]);
  return { file: readFileSync(out), truncated: partSize > bytes };
}

const CASES = [
  // A limit below the matching rows: the resumed run counts the rows before its checkpoint.
  { name: 'CSV (filtered, limited)', pipeline: 'export-csv', params: { status: 'sold', limit: '15000' }, ext: 'csv' },
  { name: 'TSV', pipeline: 'export-all-tickets', params: {}, ext: 'tsv' },
  { name: 'TXT', pipeline: 'export-all-barcodes', params: {}, ext: 'txt' },
  { name: 'TSV by the row path (transforms)', pipeline: 'tickets-mapped', params: {}, ext: 'tsv' },
] as const;

const fixtures = loadPipelines([FIXTURES]);

/** The CLI's arguments for a case (its parameters as flags). */
function cliArgs(pipeline: string, params: Readonly<Record<string, string>>, db: string): string[] {
  const flags = Object.entries(params).flatMap(([name, value]) => [`--${name}`, value]);
  return ['run', pipeline, ...(pipeline === 'tickets-mapped' ? ['--pipelines', FIXTURES] : []), ...flags, '--db', db];
}

/** A reference written in this process (no CLI start-up to wait for): one read of the whole export, or in slices. */
async function reference(pipeline: string, params: Readonly<Record<string, string>>, db: string, out: string, everyRows = 0): Promise<Buffer> {
  const definition = pipeline === 'tickets-mapped' ? pipelineNamed(await fixtures, pipeline) : await bundledPipeline(pipeline);
  await runPipeline(definition, { database: db, params, output: fileOutput(out), checkpoints: { everyRows, resume: false } });
  return readFileSync(out);
}

beforeAll(async () => {
  const seeds = [expectCode(sluice(['run', 'seed-tickets', '--db', sqliteUrl, '--count', String(ROWS), ...QUIET]), 0)];
  if (pgOk) {
    scratch = await createScratchDatabase();
    seeds.push(expectCode(sluice(['run', 'seed-tickets', '--db', scratch.url, '--count', String(ROWS), ...QUIET]), 0));
  }
  await Promise.all(seeds);
}, 120_000);

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

const ENGINES = [
  { engine: 'SQLite', url: () => sqliteUrl, skip: false },
  { engine: 'PostgreSQL', url: () => scratch!.url, skip: !pgOk },
];

describe.each(ENGINES)('resume after SIGKILL on $engine', ({ engine, url, skip }) => {
  const truncations: boolean[] = [];

  it.skipIf(skip).each(CASES)('$name: killed at a random point and resumed, byte-identical to a run never interrupted', async ({ pipeline, params, ext }) => {
    const tag = `${engine}-${pipeline}`;
    const expected = await reference(pipeline, params, url(), dir.file(`${tag}-ref.${ext}`));
    const { file, truncated } = await killAndResume(cliArgs(pipeline, params, url()), dir.file(`${tag}.${ext}`), expected.length);
    truncations.push(truncated);
    expect(file.equals(expected), `${file.length} bytes resumed, ${expected.length} expected`).toBe(true);
  });

  it.skipIf(skip)('CSV.gz: killed twice and resumed twice, identical after decompression, and compressed as a run never interrupted', async () => {
    const args = cliArgs('export-csv', {}, url());
    const plain = await reference('export-csv', {}, url(), dir.file(`${engine}-gz-ref.csv`));
    const whole = await reference('export-csv', {}, url(), dir.file(`${engine}-whole.csv.gz`), 2000);
    const out = dir.file(`${engine}.csv.gz`);
    expect(await killAt([...args, '--out', out, ...EVERY, ...QUIET], out, Math.floor(whole.length * 0.2))).toBe(true);
    // A resumed run killed in turn continues from its own checkpoints.
    expect(await killAt([...args, '--out', out, ...EVERY, '--resume', ...QUIET], out, Math.floor(whole.length * 0.6))).toBe(true);
    await expectCode(sluice([...args, '--out', out, ...EVERY, '--resume', ...QUIET]), 0);
    const resumed = readFileSync(out);
    expect(gunzipSync(resumed).equals(plain)).toBe(true);
    expect(resumed.equals(whole)).toBe(true);
  });

  it.skipIf(skip)('with a limit, slices stop at exactly the limit: the same bytes as one read', async () => {
    for (const limit of ['1', '7777', '20000']) {
      const whole = await reference('export-csv', { limit }, url(), dir.file(`${engine}-limit-${limit}.csv`));
      const sliced = await reference('export-csv', { limit }, url(), dir.file(`${engine}-limit-${limit}-sliced.csv`), 2000);
      expect(sliced.equals(whole), `limit ${limit}`).toBe(true);
      expect(whole.toString().split('\n')).toHaveLength(Number(limit) + 2);
    }
  });

  // Engine-independent (which slice carries the header): once is enough.
  it.skipIf(skip || engine !== 'SQLite')('killed before its first checkpoint, the resume writes the file from its start, header included', async () => {
    const expected = await reference('export-all-tickets', {}, url(), dir.file(`${engine}-early-ref.tsv`));
    const out = dir.file(`${engine}-early.tsv`);
    const args = cliArgs('export-all-tickets', {}, url());
    expect(await killAt([...args, '--out', out, '--checkpoint-rows', '50000', ...QUIET], out, 1)).toBe(true);
    expect(leftover(out).bytes).toBe(0);
    await expectCode(sluice([...args, '--out', out, '--checkpoint-rows', '50000', '--resume', ...QUIET]), 0);
    expect(readFileSync(out).equals(expected)).toBe(true);
  });

  it.skipIf(skip)('the kills landed between checkpoints: resumes cut the part file back', () => {
    expect(truncations.some(Boolean)).toBe(true);
  });
});

describe('data changed between the crash and the resume', () => {
  it('rows deleted after the checkpoint: the resumed file keeps nothing of the slice the kill cut short', async () => {
    const file = dir.file('deleted.db');
    copyFileSync(dir.file('t.db'), file);
    const url = `sqlite:${file}`;
    const out = dir.file('deleted.tsv');
    const whole = await reference('export-all-tickets', {}, url, dir.file('deleted-whole.tsv'));
    expect(await killAt(cliArgs('export-all-tickets', {}, url).concat(['--out', out, ...EVERY, ...QUIET]), out, whole.length / 2)).toBe(true);
    const [part] = partFilesOf(out);
    const checkpoint = JSON.parse(readFileSync(dir.file(`${part}.checkpoint`), 'utf8')) as { bytes: number; lastKey: string };
    expect(statSync(dir.file(part!)).size, 'the kill cut a slice short').toBeGreaterThan(checkpoint.bytes);
    await withDatabase(url, (db) => db.change({ text: 'DELETE FROM tickets WHERE id > ?', values: [Number(checkpoint.lastKey)] }));
    await expectCode(sluice([...cliArgs('export-all-tickets', {}, url), '--out', out, ...EVERY, '--resume', ...QUIET]), 0);
    expect(readFileSync(out).equals(whole.subarray(0, checkpoint.bytes))).toBe(true);
  });
});

describe('a resume that is not the same export refuses', () => {
  const out = dir.file('sold.csv');
  const args = ['run', 'export-csv', '--status', 'sold'];

  beforeAll(async () => {
    const expected = await reference('export-csv', { status: 'sold' }, sqliteUrl, dir.file('sold-ref.csv'));
    expect(await killAt([...args, '--db', sqliteUrl, '--out', out, ...EVERY, ...QUIET], out, expected.length / 3)).toBe(true);
  }, 60_000);

  it('with other parameters (exit 3, naming the parameter)', async () => {
    const result = await expectCode(sluice(['run', 'export-csv', '--status', 'void', '--db', sqliteUrl, '--out', out, '--resume', ...QUIET]), 3);
    expect(result.stderr).toContain('parameter status: "sold" then, "void" now');
    const added = await expectCode(sluice([...args, '--seller', 'Ana', '--db', sqliteUrl, '--out', out, '--resume', ...QUIET]), 3);
    expect(added.stderr).toContain('parameter seller: (not given) then, "Ana" now');
  });

  it('with another database (exit 3, naming both)', async () => {
    const copy = dir.file('copy.db');
    copyFileSync(dir.file('t.db'), copy);
    const result = await expectCode(sluice([...args, '--db', `sqlite:${copy}`, '--out', out, '--resume', ...QUIET]), 3);
    expect(result.stderr).toMatch(/database: ".*t\.db" then, ".*copy\.db" now/);
  });

  it('with another output (exit 3, naming the output it has a checkpoint for)', async () => {
    const result = await expectCode(sluice([...args, '--db', sqliteUrl, '--out', dir.file('elsewhere.csv'), '--resume', ...QUIET]), 3);
    expect(result.stderr).toMatch(/output: ".*sold\.csv" then, ".*elsewhere\.csv" now/);
  });

  it('leaves the part file as it was, and the right resume then completes it', async () => {
    await expectCode(sluice([...args, '--db', sqliteUrl, '--out', out, '--resume', '--batch-size', '77', ...QUIET]), 0);
    expect(readFileSync(out).equals(readFileSync(dir.file('sold-ref.csv')))).toBe(true);
    expect(partFilesOf(out)).toEqual([]);
  });
});

describe('--resume where nothing can resume', () => {
  it('a pipeline without a unique ordering key refuses, saying so', async () => {
    const result = await expectCode(sluice(['run', 'tickets-by-seller', '--pipelines', FIXTURES, '--db', sqliteUrl, '--out', dir.file('s.txt'), '--resume', ...QUIET]), 2);
    expect(result.stderr).toContain('cannot resume: its source has no unique ordering key');
  });

  it('an XLSX export refuses: it restarts from the beginning without --resume', async () => {
    const result = await expectCode(sluice(['run', 'export-xlsx', '--db', sqliteUrl, '--limit', '10', '--out', dir.file('s.xlsx'), '--resume', ...QUIET]), 2);
    expect(result.stderr).toContain('its XLSX output cannot be continued');
  });

  it('an output with no checkpoint refuses (exit 3)', async () => {
    const result = await expectCode(sluice(['run', 'export-all-barcodes', '--db', sqliteUrl, '--out', dir.file('never.txt'), '--resume', ...QUIET]), 3);
    expect(result.stderr).toContain('no checkpoint of an interrupted export');
  });

  it('describe says which pipelines resume', async () => {
    expect(describeText(await bundledPipeline('export-csv'))).toContain('resumable:  yes, by id');
    expect(describeText(await bundledPipeline('export-xlsx'))).toContain('resumable:  no, its XLSX output');
    expect(describeText(pipelineNamed(await fixtures, 'tickets-by-seller'))).toContain('resumable:  no, its source has no unique ordering key');
  });
});

describe('without --resume', () => {
  it('a fresh run replaces what a killed run left, and leaves no part file or checkpoint', async () => {
    const out = dir.file('fresh.txt');
    const expected = await reference('export-all-barcodes', {}, sqliteUrl, dir.file('fresh-ref.txt'));
    expect(await killAt(['run', 'export-all-barcodes', '--db', sqliteUrl, '--out', out, ...EVERY, ...QUIET], out, expected.length / 2)).toBe(true);
    expect(partFilesOf(out)).toHaveLength(1);
    await expectCode(sluice(['run', 'export-all-barcodes', '--db', sqliteUrl, '--out', out, ...EVERY, ...QUIET]), 0);
    expect(readFileSync(out).equals(expected)).toBe(true);
    expect(readdirSync(dir.path).filter((name) => name.startsWith('fresh.txt.'))).toEqual([]);
  });
});
