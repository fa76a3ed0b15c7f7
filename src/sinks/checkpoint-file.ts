import { constants } from 'node:fs';
import { type FileHandle, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import type { ExportIdentity } from '../core/checkpoints.ts';
import { SluiceError } from '../core/errors.ts';
import type { FileTarget } from './atomic-file.ts';
import type { BackgroundFlush } from './background-flush.ts';

/**
 * A checkpoint as kept next to its part file (`<part>.checkpoint`, JSON): the export's identity,
 * the position, the part file's length at that position, and the process writing it.
 */
export interface CheckpointFile extends ExportIdentity {
  readonly version: 1;
  /** The output file the part becomes. */
  readonly output: string;
  readonly lastKey: string | null;
  readonly rows: number;
  /** The part file's length at this checkpoint: a resume cuts it back to this. */
  readonly bytes: number;
  readonly owner: { readonly host: string; readonly pid: number };
  readonly savedAt: string;
}

const SUFFIX = '.part.checkpoint';
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

export function checkpointPathFor(part: string): string {
  return `${part}.checkpoint`;
}

/** A checkpoint found on disk, with the part file it describes (named by the checkpoint's own file name, never by its content). */
export interface FoundCheckpoint {
  readonly path: string;
  readonly part: string;
  readonly checkpoint: CheckpointFile;
}

/** The checkpoints in a folder; `target` narrows them to those of parts of that output. */
export async function findCheckpoints(folder: string, target?: string): Promise<FoundCheckpoint[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const prefix = target === undefined ? '' : `${basename(target)}.`;
  const found: FoundCheckpoint[] = [];
  for (const name of names) {
    if (!name.endsWith(SUFFIX) || !name.startsWith(prefix)) continue;
    const path = join(folder, name);
    try {
      const checkpoint = JSON.parse(await readFile(path, 'utf8')) as CheckpointFile;
      if (checkpoint.version === 1) found.push({ path, part: path.slice(0, -'.checkpoint'.length), checkpoint });
    } catch {
      // Written by rename, a checkpoint is whole or absent; anything else at that name is not ours to read.
    }
  }
  return found.sort((a, b) => b.checkpoint.savedAt.localeCompare(a.checkpoint.savedAt));
}

/** Whether the process that wrote a checkpoint may still be writing its part (another host's: cannot tell, so yes). */
export function ownerAlive(owner: CheckpointFile['owner']): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Writes a checkpoint so that it is whole and durable before this resolves: a file of its own, synced, renamed over the last. */
export async function saveCheckpoint(path: string, checkpoint: CheckpointFile): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, FILE_FLAGS, 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(checkpoint)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  // The rename itself must survive a power loss, or the old checkpoint could come back.
  const folder = await open(dirname(path), constants.O_RDONLY);
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/** Removes a part file and its checkpoint. */
export async function removePart(part: string): Promise<void> {
  await rm(checkpointPathFor(part), { force: true });
  await rm(`${checkpointPathFor(part)}.tmp`, { force: true });
  await rm(part, { force: true });
}

/**
 * A part file opened to continue at its checkpoint: cut back to the checkpoint's length (the
 * bytes after it are a slice that never reached its checkpoint). Refuses a part shorter than
 * that, or not a plain file.
 */
export async function reopenPart(found: FoundCheckpoint): Promise<FileHandle> {
  const handle = await open(found.part, constants.O_RDWR | constants.O_NOFOLLOW).catch((error: Error) => {
    throw new SluiceError('PRECONDITION_FAILED', `Cannot resume: the part file ${found.part} of the checkpoint cannot be opened (${error.message}). Run without --resume to start over.`, { cause: error });
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size < found.checkpoint.bytes) {
      throw new SluiceError('PRECONDITION_FAILED', `Cannot resume: the part file ${found.part} holds ${stats.size} bytes, fewer than the ${found.checkpoint.bytes} its checkpoint recorded. Run without --resume to start over.`);
    }
    await handle.truncate(found.checkpoint.bytes);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

type Callback = (error?: Error | null) => void;

/** One slice's bytes into the part file at its current end; the file stays open when the slice ends. */
export class SliceWriter extends Writable {
  constructor(
    private readonly handle: FileHandle,
    private readonly at: { position: number },
    private readonly path: string,
    private readonly flush: BackgroundFlush,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    this.handle.writev(chunks.map((c) => c.chunk), this.at.position).then(
      ({ bytesWritten }) => {
        this.at.position += bytesWritten;
        this.flush.written(bytesWritten);
        callback();
      },
      (error: Error) => callback(new SluiceError('OUTPUT_FAILED', `Cannot write ${this.path}: ${error.message}`, { cause: error })),
    );
  }
}

export type RegularTarget = FileTarget & { readonly kind: 'file' };
