import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import { SluiceError } from '../../src/core/errors.ts';
import type { Output } from '../../src/core/output.ts';
import { loadPipelines } from '../../src/core/registry.ts';
import { openDatabase } from '../../src/db/open.ts';
import { RunHistory } from '../../src/ops/run-history.ts';
import { acquireRunLock } from '../../src/ops/run-lock.ts';
import { trackedRun } from '../../src/ops/tracked-run.ts';
import { memoryLogger } from '../http/client.ts';
import { bundledPipeline } from '../support/app.ts';
import { adminQuery, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { seededEngines } from '../support/engines.ts';
import { seedTickets } from '../support/tickets.ts';

const FIXTURES = new URL('../fixtures/ops/', import.meta.url).pathname;
const slow = loadPipelines(FIXTURES).then((set) => set.get('slow-numbers')!);
const { engines } = await seededEngines('sluice-history-');

function memoryOutput(): Output {
  return { description: 'memory', open: () => [new Writable({ write: (_chunk, _encoding, callback) => callback() })] };
}

const who = { trigger: 'cli' as const, who: 'tester' };


describe.each(engines)('run history on %s', (_engine, url) => {
  let db: Database;
  beforeAll(() => {
    db = openDatabase(url);
  });
  afterAll(() => db.close());

  it('records succeeded, refused, failed, aborted and skipped runs with who, what and how it ended', async () => {
    const csv = await bundledPipeline('export-csv');
    const ok = await trackedRun(csv, { database: db, params: { status: 'sold' }, output: memoryOutput() }, { ...who, runId: 'ok-1' });
    await expect(trackedRun(csv, { database: db, params: { seller: 'nobody' }, output: memoryOutput() }, { ...who, runId: 'refused-1' })).rejects.toMatchObject({ code: 'NO_ROWS' });
    const numbers = await bundledPipeline('number-barcode');
    await db.exec('ALTER TABLE tickets RENAME TO tickets_away');
    await expect(trackedRun(numbers, { database: db, output: memoryOutput() }, { ...who, runId: 'failed-1' })).rejects.toMatchObject({ code: 'MISSING_TABLE' });
    await db.exec('ALTER TABLE tickets_away RENAME TO tickets');
    const abort = new AbortController();
    const aborted = trackedRun(await slow, { database: db, params: { batches: 50, pauseMs: 20 }, output: memoryOutput(), signal: abort.signal }, { ...who, runId: 'aborted-1' });
    setTimeout(() => abort.abort(new SluiceError('ABORTED', 'test abort')), 150);
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    const held = await acquireRunLock(db, 'nightly', { owner: 'someone-else' });
    await expect(trackedRun(csv, { database: db, output: memoryOutput() }, { ...who, runId: 'skipped-1', lock: { name: 'nightly' } })).rejects.toMatchObject({ code: 'LOCKED', exitCode: 75 });
    await held!.release();

    const history = RunHistory.reader(db);
    const byId = Object.fromEntries((await history.list({ limit: 100 })).map((run) => [run.id, run]));
    expect(byId['ok-1']).toMatchObject({ pipeline: 'export-csv', status: 'succeeded', trigger: 'cli', who: 'tester', rows: ok.rows, bytes: ok.bytesWritten, output: 'memory', params: { status: 'sold', bom: false, escapeFormulas: true, batchSize: 1000 } });
    expect(byId['ok-1']!.finishedAt).not.toBeNull();
    expect(byId['refused-1']).toMatchObject({ status: 'refused', errorCode: 'NO_ROWS', errorMessage: 'No tickets found', params: { seller: 'nobody' } });
    expect(byId['failed-1']).toMatchObject({ status: 'failed', errorCode: 'MISSING_TABLE' });
    expect(byId['aborted-1']!.status).toBe('aborted');
    expect(byId['aborted-1']!.rows).toBeGreaterThan(0);
    expect(byId['skipped-1']).toMatchObject({ status: 'skipped', pipeline: 'export-csv' });
    expect(byId['skipped-1']!.errorMessage).toContain('"nightly" was held');
    expect((await history.list({ status: 'failed' })).map((r) => r.id)).toEqual(['failed-1']);
    expect((await history.list({ pipeline: 'slow-numbers' })).map((r) => r.id)).toEqual(['aborted-1']);
  });

  it('keeps a running run beating and shows it as abandoned once its heartbeat is stale', async () => {
    const history = await RunHistory.open(db);
    const start = { id: 'beating-1', pipeline: 'p', params: {}, trigger: 'cli' as const, who: 'w', host: 'h', heartbeatMs: 1000 };
    await history.start(start, 1_000_000);
    expect((await history.get('beating-1', 1_002_000))!.status).toBe('running');
    await history.heartbeat('beating-1', { rows: 7, bytes: 70 }, 1_002_500);
    const fresh = await history.get('beating-1', 1_005_000);
    expect(fresh).toMatchObject({ status: 'running', rows: 7, bytes: 70 });
    expect((await history.get('beating-1', 1_006_000))!.status).toBe('abandoned');
    expect((await history.list({ status: 'abandoned' }, 1_006_000)).map((r) => r.id)).toContain('beating-1');
    expect(await history.prune(1_000_001, 1_006_000)).toBeGreaterThanOrEqual(1);
    expect(await history.get('beating-1')).toBeUndefined();
  });

  it('never fails the run: a history that cannot be written gets one warning', async () => {
    const csv = await bundledPipeline('export-csv');
    // A history table no one can write: the schema is there, every INSERT fails.
    const readOnly = openDatabase(url);
    try {
      await readOnly.exec(
        url.startsWith('sqlite')
          ? "CREATE TRIGGER IF NOT EXISTS sluice_runs_refuse BEFORE INSERT ON sluice_runs BEGIN SELECT RAISE(ABORT, 'read-only history'); END"
          : "CREATE OR REPLACE FUNCTION sluice_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read-only history'; END $$; CREATE TRIGGER sluice_runs_refuse BEFORE INSERT ON sluice_runs FOR EACH ROW EXECUTE FUNCTION sluice_refuse()",
      );
      const { logger, records } = memoryLogger();
      const fresh = openDatabase(url);
      try {
        const first = await trackedRun(csv, { database: fresh, params: { status: 'sold' }, output: memoryOutput(), logger }, who);
        const second = await trackedRun(csv, { database: fresh, params: { status: 'sold' }, output: memoryOutput(), logger }, who);
        expect(first.rows).toBeGreaterThan(0);
        expect(second.rows).toBe(first.rows);
      } finally {
        await fresh.close();
      }
      const warnings = records.filter((r) => String(r.msg).startsWith('run history is off'));
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]!.msg)).toContain('read-only history');
    } finally {
      await readOnly.exec(url.startsWith('sqlite') ? 'DROP TRIGGER sluice_runs_refuse' : 'DROP TRIGGER sluice_runs_refuse ON sluice_runs');
      await readOnly.close();
    }
  });
});

describe('run history on a read-only PostgreSQL user', () => {
  it('exports with one warning when the user may not create the history table', async () => {
    if (!(await postgresAvailable())) return;
    const fresh = await createScratchDatabase();
    const role = `sluice_ro_${fresh.name.slice(-6)}`;
    try {
      await seedTickets(fresh.url);
      await adminQuery(`CREATE ROLE ${role} LOGIN`);
      const admin = openDatabase(fresh.url);
      await admin.exec(`REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT SELECT ON tickets TO ${role}`);
      await admin.close();
      const url = new URL(fresh.url);
      url.username = role;
      const db = openDatabase(url.toString());
      const { logger, records } = memoryLogger();
      try {
        const result = await trackedRun(await bundledPipeline('export-csv'), { database: db, output: memoryOutput(), logger }, who);
        expect(result.rows).toBe(6);
      } finally {
        await db.close();
      }
      const warnings = records.filter((r) => String(r.msg).startsWith('run history is off'));
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]!.msg)).toContain('permission denied');
    } finally {
      await fresh.drop();
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});

