import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RunMetrics } from '../../src/core/metrics.ts';
import { progressBar, reportProgress } from '../../src/core/progress.ts';

function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk.toString()), cb()) });
  return { logger: pino({ level: 'info' }, stream), lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('progress', () => {
  it('logs one line per 10,000 rows reaching the sink', async () => {
    const metrics = new RunMetrics('p');
    metrics.stage('source');
    metrics.stage('sink');
    const { logger, lines } = capture();
    reportProgress(metrics, logger, undefined);
    for (let i = 0; i < 35; i++) metrics.recordBatch(0, 1000);
    await new Promise((r) => setImmediate(r));
    expect(lines().map((l) => l.rows)).toEqual([10_000, 20_000, 30_000]);
    expect(metrics.rows).toBe(35_000);
    expect(metrics.summary('succeeded').stages).toMatchObject([
      { stage: 'source', rowsIn: 0, rowsOut: 35_000 },
      { stage: 'sink', rowsIn: 35_000, rowsOut: 35_000 },
    ]);
  });

  it('draws a bar with percentage, rate and ETA when the total is known', () => {
    expect(progressBar(250_000, 1_000_000, 125_000, 20)).toBe('[#####...............] 25% 250,000/1,000,000 rows 125,000 rows/s ETA 6s');
    expect(progressBar(90_000, 1_000_000, 1000, 10)).toBe('[#.........] 9% 90,000/1,000,000 rows 1,000 rows/s ETA 15m10s');
    expect(progressBar(1234, undefined, 99.6)).toBe('1,234 rows 100 rows/s');
  });
});

describe('onProgress', () => {
  it('reports rows, bytes and rate on a timer while the run moves data, and stops with it', async () => {
    const { Readable, Writable: Sink } = await import('node:stream');
    const { setTimeout: sleep } = await import('node:timers/promises');
    const { definePipeline, runPipeline, csvSink } = await import('../../src/index.ts');
    const slow = definePipeline({
      name: 'slow',
      description: 'Five batches, 30 ms apart',
      params: {},
      source: {
        kind: 'source.slow',
        summary: 'slow',
        columns: [{ name: 'n', type: 'integer' }],
        open: () =>
          Readable.from(
            (async function* () {
              for (let i = 0; i < 5; i++) {
                await sleep(30);
                yield [[i], [i]];
              }
            })(),
          ),
      },
      transforms: [],
      sink: csvSink(),
    });
    const seen: Array<{ rows: number; bytesWritten: number; elapsedMs: number }> = [];
    const output = { description: 'memory', open: () => [new Sink({ write: (_c, _e, cb) => cb() })] };
    const result = await runPipeline(slow, { database: 'sqlite::memory:', output, onProgress: (p) => seen.push(p), progressIntervalMs: 20 });
    const after = seen.length;
    await sleep(60);
    expect(seen.length).toBe(after);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    const rows = seen.map((p) => p.rows);
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    expect(rows.at(-1)).toBeGreaterThan(0);
    expect(rows.at(-1)).toBeLessThanOrEqual(result.rows);
    expect(seen.at(-1)!.bytesWritten).toBeGreaterThan(0);
    expect(seen.every((p, i) => i === 0 || p.elapsedMs >= seen[i - 1]!.elapsedMs)).toBe(true);
  });
});
