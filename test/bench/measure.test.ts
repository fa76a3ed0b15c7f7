import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { measure, median } from '../../bench/measure.ts';
import { scratchDir } from '../support/sqlite.ts';

const dir = scratchDir('sluice-measure-');
afterAll(() => dir.remove());
const timeFile = dir.file('time.txt');
const node = (code: string, ...flags: string[]) => ({ argv: [process.execPath, ...flags, '-e', code] });

describe('measure', () => {
  it("reports the child's own peak RSS and sends its stdout to the file", async () => {
    const out = dir.file('out.txt');
    const result = await measure({ ...node("Buffer.alloc(300e6, 1); process.stdout.write('done')"), stdoutFile: out }, 30, timeFile);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.peakRssKb).toBeGreaterThan(300_000);
    expect(result.wallSeconds).toBeGreaterThan(0);
    expect(readFileSync(out, 'utf8')).toBe('done');
  });

  it('marks a non-zero exit as failed, with the last line of stderr', async () => {
    const result = await measure(node("console.error('bad input'); process.exit(3)"), 30, timeFile);
    expect(result).toMatchObject({ ok: false, failure: 'failed (exit 3: bad input)' });
  });

  it('names running out of memory as OOM/crash: a finding, not a harness error', async () => {
    const result = await measure(node('const keep = []; for (;;) keep.push(new Array(1e5).fill(Math.random()))', '--max-old-space-size=32'), 60, timeFile);
    expect(result).toMatchObject({ ok: false, failure: 'OOM/crash' });
  });

  it('kills a run that exceeds its timeout', async () => {
    const started = Date.now();
    const result = await measure(node('setTimeout(() => {}, 60_000)'), 1, timeFile);
    expect(result).toMatchObject({ ok: false, failure: 'timeout after 1 s' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
