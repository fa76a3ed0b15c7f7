import { describe, expect, it } from 'vitest';
import { RunQueue } from '../../src/queue/run-queue.ts';
import { createScratchDatabase, postgresAvailable } from '../support/postgres.ts';

const pgOk = await postgresAvailable();

describe.skipIf(!pgOk)('RunQueue.open', () => {
  it('opens for every worker started at the same moment on a new queue database (pg-boss installs its schema once)', async () => {
    // One round in three failed with "deadlock detected" before the start was retried on that race.
    for (let round = 0; round < 3; round++) {
      const scratch = await createScratchDatabase();
      try {
        const opened = await Promise.allSettled(Array.from({ length: 4 }, () => RunQueue.open(scratch.url, { supervise: false })));
        await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
        expect(opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'opened'))).toEqual(['opened', 'opened', 'opened', 'opened']);
      } finally {
        await scratch.drop();
      }
    }
  }, 60_000);
});
