import { describe, expect, it } from 'vitest';
import { loadPipelines } from '../../src/core/registry.ts';
import { openDatabase } from '../../src/db/open.ts';
import { RunHistory } from '../../src/ops/run-history.ts';
import { validateSchedule } from '../../src/schedule/config.ts';
import { Scheduler } from '../../src/schedule/scheduler.ts';
import { memoryLogger } from '../http/client.ts';
import { seededEngines } from '../support/engines.ts';

const FIXTURES = new URL('../fixtures/ops/', import.meta.url).pathname;
const { engines, dir } = await seededEngines('sluice-scheduler-');


describe.each(engines)('two schedulers on %s', (engine, url) => {
  it('run a fire once, even when the second one reaches it after the first run ended', async () => {
    const pipelines = await loadPipelines(FIXTURES);
    const config = validateSchedule({ jobs: [{ name: `late-${engine}`, cron: '0 0 * * *', pipeline: 'slow-numbers', params: { batches: 1, pauseMs: 1 }, db: url, out: `${dir.path}/{name}-{runId}.csv` }] }, pipelines);
    const [job] = config.jobs;
    const schedulers = [0, 1].map(() => new Scheduler({ config, defaultDatabase: undefined, logger: memoryLogger().logger }));
    const fire = new Date('2026-11-30T00:00:00Z');
    await schedulers[0]!.fire(job!, fire);
    await schedulers[1]!.fire(job!, fire);
    await schedulers[1]!.fire(job!, new Date('2026-12-01T00:00:00Z'));
    await Promise.all(schedulers.map((s) => s.drain(1000)));
    const db = openDatabase(url);
    const runs = await RunHistory.reader(db).list({ job: job!.name });
    await db.close();
    expect(runs.map((run) => [run.id.slice(0, 16), run.status]).sort()).toEqual([
      ['20261130T000000Z', 'skipped'],
      ['20261130T000000Z', 'succeeded'],
      ['20261201T000000Z', 'succeeded'],
    ]);
    expect(runs.find((run) => run.status === 'skipped')!.errorMessage).toBe('another scheduler process took this fire');
  });
});
