import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundFlush } from '../../src/sinks/background-flush.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A real file whose syncs are counted (and made to fail or wait when asked). */
async function countedFile(options: { readonly fail?: boolean } = {}): Promise<{ handle: FileHandle; path: string; syncs: () => number; release: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-flush-'));
  dirs.push(dir);
  const path = join(dir, 'out');
  const handle = await open(path, 'w');
  const real = handle.datasync.bind(handle);
  let syncs = 0;
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  handle.datasync = async () => {
    syncs++;
    await held;
    if (options.fail) throw new Error('EIO: i/o error, fdatasync');
    return real();
  };
  return { handle, path, syncs: () => syncs, release };
}

describe('BackgroundFlush', () => {
  it('syncs once per `everyBytes` written, never two at a time, and settles after the last', async () => {
    const file = await countedFile();
    const flush = new BackgroundFlush(file.handle, 1000);
    const chunk = Buffer.alloc(600, 120);
    for (let i = 0; i < 4; i++) {
      const { bytesWritten } = await file.handle.write(chunk);
      flush.written(bytesWritten);
    }
    // 2,400 bytes: one sync began at 1,200; at 2,400 it was still running, so none began.
    expect(file.syncs()).toBe(1);
    file.release();
    await flush.settle();
    flush.written(1000);
    expect(file.syncs()).toBe(2);
    await flush.settle();
    await file.handle.close();
    expect(readFileSync(file.path).length).toBe(2400);
  });

  it('writes nothing to disk on its own below `everyBytes`', async () => {
    const file = await countedFile();
    const flush = new BackgroundFlush(file.handle, 1000);
    flush.written(999);
    await flush.settle();
    expect(file.syncs()).toBe(0);
    await file.handle.close();
  });

  it('sync waits for the sync under way, then syncs the tail once more', async () => {
    const file = await countedFile();
    const flush = new BackgroundFlush(file.handle, 1000);
    flush.written(1000);
    let synced = false;
    const syncing = flush.sync().then(() => (synced = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Still held: the final sync must not start before the background one ends.
    expect([synced, file.syncs()]).toEqual([false, 1]);
    file.release();
    await syncing;
    expect(file.syncs()).toBe(2);
    await file.handle.close();
  });

  it('a failed sync fails the file at settle, and at every settle after', async () => {
    const file = await countedFile({ fail: true });
    const flush = new BackgroundFlush(file.handle, 10);
    flush.written(10);
    file.release();
    await expect(flush.settle()).rejects.toThrow(/EIO/);
    await expect(flush.settle()).rejects.toThrow(/EIO/);
    await expect(flush.sync()).rejects.toThrow(/EIO/);
    expect(file.syncs()).toBe(1);
    await file.handle.close();
  });
});
