import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Batch, StageContext } from '../../src/core/types.ts';
import { batchWriter } from '../../src/sinks/batch-writer.ts';

/** Batches of `size` one-value rows numbered from 1. */
function batches(count: number, size: number): Batch[] {
  return Array.from({ length: count }, (_, b) => Array.from({ length: size }, (_, i) => [b * size + i + 1]));
}

function context(): { ctx: StageContext; committed: number[] } {
  const committed: number[] = [];
  const ctx = { metrics: { recordCommitted: (rows: number) => committed.push(rows) }, logger: { warn: () => undefined } } as unknown as StageContext;
  return { ctx, committed };
}

describe('batchWriter', () => {
  it('commits groups of whole batches in input order, the last one short', async () => {
    const { ctx, committed } = context();
    const groups: number[][] = [];
    const writer = batchWriter(ctx, { groupRows: 5, commit: async (group) => void groups.push(group.map((row) => row[0] as number)) });
    await pipeline(Readable.from(batches(7, 2), { objectMode: true }), writer);
    expect(groups.map((g) => g.length)).toEqual([6, 6, 2]);
    expect(groups.flat()).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(committed).toEqual([6, 6, 2]);
  });

  it('gathers the next group while one commits, but never runs two commits at once', async () => {
    const { ctx } = context();
    let running = 0;
    let mostAtOnce = 0;
    /** Batches read during each commit: the next group's, beyond what the streams' buffers hold (one each). */
    const readDuring: number[] = [];
    const source = Readable.from(
      (function* () {
        for (const batch of batches(12, 1)) {
          if (running > 0) readDuring[readDuring.length - 1]!++;
          yield batch;
        }
      })(),
      { objectMode: true, highWaterMark: 1 },
    );
    const writer = batchWriter(ctx, {
      groupRows: 3,
      commit: async () => {
        readDuring.push(0);
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await sleep(30);
        running--;
      },
    });
    await pipeline(source, writer);
    expect(mostAtOnce).toBe(1);
    expect(Math.max(...readDuring)).toBeGreaterThanOrEqual(3);
  });

  it('fails the stream with a commit that failed behind it, and commits nothing after it', async () => {
    const { ctx, committed } = context();
    let commits = 0;
    const writer = batchWriter(ctx, {
      groupRows: 2,
      commit: async () => {
        if (++commits === 2) throw new Error('disk full');
      },
    });
    await expect(pipeline(Readable.from(batches(9, 1), { objectMode: true }), writer)).rejects.toThrow('disk full');
    expect(commits).toBe(2);
    expect(committed).toEqual([2]);
  });

  it('without groups, commits each batch as it comes', async () => {
    const { ctx, committed } = context();
    await pipeline(Readable.from(batches(4, 3), { objectMode: true }), batchWriter(ctx, { commit: async () => undefined }));
    expect(committed).toEqual([3, 3, 3, 3]);
  });
});
