import { readdirSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OrderedAssembly } from '../../src/core/ordered-assembly.ts';
import { type ScratchDir, scratchDir } from '../support/sqlite.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A part of `count` chunks of `size` bytes labelled by part, each after `delayMs`; it may fail after `failAfter` chunks. */
function part(label: string, count: number, options: { size?: number; delayMs?: number; failAfter?: number } = {}): Readable & { chunksRead: () => number } {
  let sent = 0;
  const size = options.size ?? 1000;
  const stream = new Readable({
    async read() {
      if (options.delayMs) await sleep(options.delayMs);
      if (this.destroyed) return;
      if (options.failAfter !== undefined && sent === options.failAfter) return void this.destroy(new Error(`part ${label} failed`));
      if (sent === count) return void this.push(null);
      this.push(Buffer.from(`${label}${String(sent++).padStart(6, '0')}`.padEnd(size, label)));
    },
  });
  return Object.assign(stream, { chunksRead: () => sent });
}

function expected(labels: Array<[string, number]>, size = 1000): string {
  return labels.map(([label, count]) => Array.from({ length: count }, (_, i) => `${label}${String(i).padStart(6, '0')}`.padEnd(size, label)).join('')).join('');
}

/** Collects the bytes, slowly if asked, and watches the spill directory while it does. */
function collector(dir: string, delayMs = 0, keep = true): Writable & { text: () => string; sawSpills: () => number; bytes: () => number } {
  const chunks: Buffer[] = [];
  let spills = 0;
  let bytes = 0;
  const sink = new Writable({
    async write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (keep) chunks.push(chunk);
      spills = Math.max(spills, readdirSync(dir).filter((f) => f.endsWith('.spill')).length);
      if (delayMs) await sleep(delayMs);
      callback();
    },
  });
  return Object.assign(sink, { text: () => Buffer.concat(chunks).toString(), sawSpills: () => spills, bytes: () => bytes });
}

describe('ordered assembly', () => {
  let dir: ScratchDir;
  beforeEach(() => (dir = scratchDir()));
  afterEach(() => dir.remove());
  const leftovers = () => readdirSync(dir.path);

  it('writes the parts in order, the first straight through', async () => {
    const sink = collector(dir.path);
    await pipeline(new OrderedAssembly([part('a', 20), part('b', 5), part('c', 0), part('d', 7)], { spillDir: dir.path }), sink);
    expect(sink.text()).toBe(expected([['a', 20], ['b', 5], ['c', 0], ['d', 7]]));
    expect(leftovers()).toEqual([]);
  });

  it('passes the chunks on as they come, never joined into copies', async () => {
    const sizes = new Set<number>();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        sizes.add(chunk.length);
        setImmediate(callback);
      },
    });
    await pipeline(new OrderedAssembly([part('a', 500), part('b', 500)], { spillDir: dir.path }), sink);
    expect([...sizes]).toEqual([1000]);
  });

  it('reads later parts ahead while it waits on the first, spilling past the memory bound, and replays them in order', async () => {
    const later = [part('b', 300), part('c', 300)];
    const sink = collector(dir.path);
    const assembly = new OrderedAssembly([part('a', 30, { delayMs: 5 }), ...later], { spillDir: dir.path, spillPrefix: 'out.csv', memoryBytes: 20_000, readAhead: 'idle' });
    await pipeline(assembly, sink);
    expect(sink.text()).toBe(expected([['a', 30], ['b', 300], ['c', 300]]));
    // While the first part trickled, the others were read to their ends, into memory and spill files.
    expect(sink.sawSpills()).toBe(2);
    expect(leftovers()).toEqual([]);
  });

  it('keeps its memory bounded: a part ahead holds at most the bound in memory', async () => {
    const sink = collector(dir.path, 0, false);
    let peak = 0;
    const assembly = new OrderedAssembly([part('a', 50, { delayMs: 4 }), part('b', 20_000, { size: 1000 })], { spillDir: dir.path, memoryBytes: 256 * 1024, readAhead: 'idle' });
    const timer = setInterval(() => (peak = Math.max(peak, assembly.heldBytes)), 1);
    try {
      await pipeline(assembly, sink);
    } finally {
      clearInterval(timer);
    }
    // 20 MB went through part b while part a trickled; the Buffers alive at any time stayed far below that.
    expect(sink.bytes()).toBe(20_050 * 1000);
    expect(sink.sawSpills()).toBe(1);
    expect(leftovers()).toEqual([]);
    expect(peak).toBeGreaterThan(200 * 1024);
    expect(peak).toBeLessThan(512 * 1024);
  });

  it('without read-ahead, a later part waits at its memory bound: no spill file, the same bytes', async () => {
    const later = part('b', 300);
    const sink = collector(dir.path);
    let held = 0;
    const assembly = new OrderedAssembly([part('a', 30, { delayMs: 5 }), later], { spillDir: dir.path, memoryBytes: 20_000, readAhead: 'never' });
    const timer = setInterval(() => (held = Math.max(held, assembly.heldBytes)), 1);
    try {
      await pipeline(assembly, sink);
    } finally {
      clearInterval(timer);
    }
    expect(sink.text()).toBe(expected([['a', 30], ['b', 300]]));
    expect(sink.sawSpills()).toBe(0);
    // The bound, plus the one chunk that reached it.
    expect(held).toBeGreaterThanOrEqual(20_000);
    expect(held).toBeLessThanOrEqual(21_000);
  });

  it('with read-ahead always, reads later parts to their ends while the first trickles, a bound filled exactly or not', async () => {
    for (const memoryBytes of [20_000, 20_500]) {
      const later = [part('b', 300), part('c', 300)];
      let read: number[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          if (read.length === 0 && chunk.subarray(0, 1).toString() === 'b') read = later.map((p) => p.chunksRead());
          callback();
        },
      });
      await pipeline(new OrderedAssembly([part('a', 20, { delayMs: 5 }), ...later], { spillDir: dir.path, memoryBytes, readAhead: 'always' }), sink);
      expect(read).toEqual([300, 300]);
    }
  });

  it('reads ahead in proportion to the time it waits on the part being written', async () => {
    /** How many chunks (of 10,000 bytes) each later part had read when the first part ended. */
    const readAhead = async (first: Readable): Promise<number[]> => {
      const later = [part('b', 300, { size: 10_000 }), part('c', 300, { size: 10_000 })];
      let read: number[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          const label = chunk.subarray(0, 1).toString();
          if (read.length === 0 && label === 'b') read = later.map((p) => p.chunksRead());
          // The first part's bytes are taken slowly: time enough for the others to read all theirs, if they may.
          if (label === 'a') setTimeout(callback, 1);
          else callback();
        },
      });
      await pipeline(new OrderedAssembly([first, ...later], { spillDir: dir.path, memoryBytes: 100_000, readAhead: 'idle' }), sink);
      return read;
    };
    // 30 waits of 5 ms: enough for every chunk of both (100 KB a millisecond).
    expect(await readAhead(part('a', 30, { delayMs: 5 }))).toEqual([300, 300]);
    // A first part that is always ready (the output is the slow side): the bound (10 chunks) and what a few moments without a chunk buy.
    const ready = await readAhead(part('a', 100));
    expect(Math.min(...ready)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...ready)).toBeLessThan(150);
  });

  it('fails as a whole when a later part fails: every part stopped, no spill file left', async () => {
    const parts = [part('a', 200, { delayMs: 2 }), part('b', 400), part('c', 400, { failAfter: 300 }), part('d', 400)];
    const assembly = new OrderedAssembly(parts, { spillDir: dir.path, memoryBytes: 10_000, readAhead: 'idle' });
    await expect(pipeline(assembly, collector(dir.path))).rejects.toThrow('part c failed');
    expect(parts.every((p) => p.destroyed)).toBe(true);
    expect(parts[0]!.chunksRead()).toBeLessThan(200);
    expect(leftovers()).toEqual([]);
  });

  it('fails when the first part fails', async () => {
    const parts = [part('a', 100, { failAfter: 10 }), part('b', 400, { delayMs: 1 })];
    await expect(pipeline(new OrderedAssembly(parts, { spillDir: dir.path, memoryBytes: 1000 }), collector(dir.path))).rejects.toThrow('part a failed');
    expect(parts.every((p) => p.destroyed)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('stops everything on abort and removes the spill files', async () => {
    const parts = [part('a', 1000, { delayMs: 2 }), part('b', 2000), part('c', 2000)];
    const controller = new AbortController();
    const sink = collector(dir.path);
    const running = pipeline(new OrderedAssembly(parts, { spillDir: dir.path, memoryBytes: 10_000, readAhead: 'idle' }), sink, { signal: controller.signal });
    await sleep(150);
    expect(leftovers().filter((f) => f.endsWith('.spill')).length).toBeGreaterThan(0);
    controller.abort();
    await expect(running).rejects.toThrow(/abort/i);
    await sleep(20);
    expect(parts.every((p) => p.destroyed)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('refuses a SLUICE_READ_AHEAD it does not know, naming the ones it does', () => {
    const before = process.env.SLUICE_READ_AHEAD;
    process.env.SLUICE_READ_AHEAD = 'IDLE';
    try {
      expect(() => new OrderedAssembly([part('a', 1)], { spillDir: dir.path })).toThrow(/SLUICE_READ_AHEAD must be one of idle, always, never, not "IDLE"/);
    } finally {
      if (before === undefined) delete process.env.SLUICE_READ_AHEAD;
      else process.env.SLUICE_READ_AHEAD = before;
    }
  });

  it('reports a part that failed before the assembly started', async () => {
    const broken = part('b', 1);
    broken.on('error', () => undefined);
    broken.destroy(new Error('no connection'));
    await sleep(5);
    const first = part('a', 3);
    await expect(pipeline(new OrderedAssembly([first, broken], { spillDir: dir.path }), collector(dir.path))).rejects.toThrow('no connection');
    expect(first.destroyed).toBe(true);
  });
});
