import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readlinkSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { SluiceError } from '../core/errors.ts';
import { BackgroundFlush } from './background-flush.ts';

type Callback = (error?: Error | null) => void;

/** Where an output path really writes. */
export type FileTarget =
  /** A regular file (existing or not) written atomically; `mode` is the existing file's permission bits. */
  | { readonly kind: 'file'; readonly path: string; readonly mode: number | undefined }
  /** A FIFO or a device: written straight into, never replaced. */
  | { readonly kind: 'fifo' | 'device'; readonly path: string };

const MAX_LINKS = 40;

function errnoCode(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

function usage(label: string, path: string, problem: string): SluiceError {
  return new SluiceError('USAGE', `${label} ${path} ${problem}.`);
}

/**
 * What writing to `path` means. A symlink writes to its target (which is replaced atomically;
 * the link stays a link), following a chain of links, dangling ones included. A directory is an
 * error. Folders that do not exist yet are fine (they are created), unless something that is not
 * a folder stands in the way.
 */
export function resolveTarget(path: string, label = 'The output'): FileTarget {
  let current = resolve(path);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    let stats;
    try {
      stats = lstatSync(current);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw usage(label, path, `cannot be checked (${(error as Error).message})`);
      checkFolder(dirname(current), label, path);
      return { kind: 'file', path: current, mode: undefined };
    }
    if (stats.isSymbolicLink()) {
      current = resolve(dirname(current), readlinkSync(current));
      continue;
    }
    if (stats.isDirectory()) throw usage(label, path, 'is a directory: give a file path');
    if (stats.isFile()) {
      checkFolder(dirname(current), label, path);
      return { kind: 'file', path: current, mode: stats.mode & 0o7777 };
    }
    if (stats.isFIFO()) return { kind: 'fifo', path: current };
    if (stats.isSocket()) throw usage(label, path, 'is a socket: give a file path');
    return { kind: 'device', path: current };
  }
  throw usage(label, path, `is a chain of more than ${MAX_LINKS} symbolic links`);
}

/** The nearest existing ancestor must be a folder we can write in (the rest is created). */
function checkFolder(folder: string, label: string, path: string): void {
  for (let dir = folder; ; dir = dirname(dir)) {
    let stats;
    try {
      stats = statSync(dir);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' && dirname(dir) !== dir) continue;
      throw usage(label, path, `cannot be written: ${(error as Error).message}`);
    }
    if (!stats.isDirectory()) throw usage(label, path, `cannot be written: ${dir} is not a folder`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw usage(label, path, `cannot be written: no permission to write in ${dir}`);
    }
    return;
  }
}

/** Fails before any work when `path` cannot be an output file (see resolveTarget). */
export function checkOutputPath(path: string, label = 'The output'): void {
  resolveTarget(path, label);
}

/**
 * Part files of this process that are not yet renamed or removed, so that an exit that cannot
 * wait for streams to clean up (a second Ctrl-C) can still remove them.
 */
const liveParts = new Set<string>();

/** Removes every part file this process is writing, synchronously: for the moment before `process.exit`. */
export function removePartFilesNow(): void {
  for (const part of liveParts) rmSync(part, { force: true });
  liveParts.clear();
}

/**
 * A part file name next to the target that no one else can predict or share: two runs writing
 * the same output each have their own, and a planted symlink cannot take its place (the file is
 * created with O_EXCL and O_NOFOLLOW).
 */
function partPathFor(target: string): string {
  return join(dirname(target), `${basename(target)}.${randomBytes(6).toString('hex')}.part`);
}

const PART_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Registers a file of this process's run to remove at an exit that cannot wait (see removePartFilesNow), or unregisters it. */
export function trackPartFile(path: string, live: boolean): void {
  if (live) liveParts.add(path);
  else liveParts.delete(path);
}

/** Opens a fresh part file; a replaced file's permission bits carry over before any byte is written. */
export async function openPart(target: FileTarget & { kind: 'file' }): Promise<{ handle: FileHandle; part: string }> {
  mkdirSync(dirname(target.path), { recursive: true });
  const part = partPathFor(target.path);
  // A replaced file may hold personal data under 0600: never let its successor be more open, not even briefly.
  const handle = await open(part, PART_FLAGS, target.mode === undefined ? 0o666 : 0o600);
  liveParts.add(part);
  if (target.mode !== undefined) await handle.chmod(target.mode);
  return { handle, part };
}

/**
 * Writes a file atomically: into a part file of its own next to the target, renamed over the
 * target only after every byte is written and synced. On error or abort the part file is
 * removed and whatever was at the path before is untouched, so a file at the path is always one
 * run's whole output (two runs at once: the last to finish wins, neither is mixed into the other).
 */
export class AtomicFileWriter extends Writable {
  readonly path: string;
  /** The part file being written, once open. */
  partPath: string | undefined;
  bytesWritten = 0;
  #handle: FileHandle | undefined;
  #flush: BackgroundFlush | undefined;
  readonly #target: FileTarget & { kind: 'file' };
  #committed = false;

  /** `path` as the user gave it (for messages) and where it resolved to (see resolveTarget). */
  constructor(path: string, target: FileTarget & { kind: 'file' } = regularTarget(path)) {
    super({ highWaterMark: 1 << 20 });
    this.path = path;
    this.#target = target;
  }

  override _construct(callback: Callback): void {
    this.#open().then(
      () => callback(),
      (error: unknown) => callback(this.#failure(error)),
    );
  }

  async #open(): Promise<void> {
    const { handle, part } = await openPart(this.#target);
    this.#handle = handle;
    this.#flush = new BackgroundFlush(handle);
    this.partPath = part;
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    const buffers = chunks.map((c) => c.chunk);
    this.#handle!.writev(buffers).then(
      ({ bytesWritten }) => {
        this.bytesWritten += bytesWritten;
        this.#flush!.written(bytesWritten);
        callback();
      },
      (error: unknown) => callback(this.#failure(error)),
    );
  }

  override _final(callback: Callback): void {
    this.#commit().then(
      () => callback(),
      (error: unknown) => callback(this.#failure(error)),
    );
  }

  async #commit(): Promise<void> {
    const handle = this.#handle!;
    await this.#flush!.sync();
    await handle.close();
    this.#handle = undefined;
    await rename(this.partPath!, this.#target.path);
    liveParts.delete(this.partPath!);
    this.#committed = true;
  }

  override _destroy(error: Error | null, callback: Callback): void {
    if (this.#committed) return callback(error);
    const handle = this.#handle;
    const part = this.partPath;
    this.#handle = undefined;
    Promise.resolve(this.#flush?.settle())
      .catch(() => undefined)
      .then(() => handle?.close())
      .catch(() => undefined)
      .then(() => (part ? rm(part, { force: true }) : undefined))
      .then(
        () => {
          if (part) liveParts.delete(part);
          callback(error);
        },
        () => callback(error),
      );
  }

  #failure(error: unknown): SluiceError {
    if (error instanceof SluiceError) return error;
    const detail = error instanceof Error ? error.message : String(error);
    return new SluiceError('OUTPUT_FAILED', `Cannot write ${this.path}: ${detail}`, { cause: error });
  }
}

function regularTarget(path: string): FileTarget & { kind: 'file' } {
  const target = resolveTarget(path);
  if (target.kind !== 'file') throw usage('The output', path, 'is not a regular file');
  return target;
}

/** A small file (metrics, a report) written with the same rules as AtomicFileWriter, synchronously. */
export function writeFileAtomically(path: string, text: string): void {
  const target = resolveTarget(path);
  if (target.kind !== 'file') {
    const fd = openSync(target.path, 'w');
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const part = partPathFor(target.path);
  try {
    mkdirSync(dirname(target.path), { recursive: true });
    const fd = openSync(part, PART_FLAGS, target.mode === undefined ? 0o666 : 0o600);
    try {
      if (target.mode !== undefined) fchmodSync(fd, target.mode);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(part, target.path);
  } catch (error) {
    rmSync(part, { force: true });
    throw new SluiceError('OUTPUT_FAILED', `Cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
