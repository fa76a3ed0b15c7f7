import { type FileHandle, rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { type CheckpointPosition, type ExportIdentity, type SlicedOutput, identityDifferences } from '../core/checkpoints.ts';
import { SluiceError } from '../core/errors.ts';
import { openPart, trackPartFile } from './atomic-file.ts';
import { BackgroundFlush } from './background-flush.ts';
import {
  type CheckpointFile,
  type FoundCheckpoint,
  type RegularTarget,
  SliceWriter,
  checkpointPathFor,
  findCheckpoints,
  ownerAlive,
  removePart,
  reopenPart,
  saveCheckpoint,
} from './checkpoint-file.ts';

/**
 * A file export written slice by slice into a part file, with a checkpoint next to it after each
 * slice (see core/checkpoints.ts). Like AtomicFileWriter, the output appears only whole, by
 * rename; unlike it, a part file left by a crash can be continued. A `.gz` output gets a gzip
 * member per slice, so what is written up to a checkpoint is a complete gzip stream.
 */
export class SlicedFile implements SlicedOutput {
  readonly #at: { position: number };
  #handle: FileHandle | undefined;
  readonly #flush: BackgroundFlush;

  private constructor(
    readonly path: string,
    readonly target: RegularTarget,
    readonly part: string,
    handle: FileHandle,
    readonly identity: ExportIdentity,
    readonly gzip: boolean,
    readonly resumed: CheckpointPosition | undefined,
    position: number,
  ) {
    this.#handle = handle;
    this.#flush = new BackgroundFlush(handle);
    this.#at = { position };
    trackPartFile(part, true);
    trackPartFile(checkpointPathFor(part), true);
  }

  /** A fresh part file; parts and checkpoints that crashed runs left for this output go. */
  static async fresh(path: string, target: RegularTarget, identity: ExportIdentity, gzip: boolean): Promise<SlicedFile> {
    for (const left of await findCheckpoints(dirname(target.path), target.path)) {
      if (!ownerAlive(left.checkpoint.owner)) await removePart(left.part);
    }
    const { handle, part } = await openPart(target);
    return new SlicedFile(path, target, part, handle, identity, gzip, undefined, 0);
  }

  /** The part file of this export's last checkpoint, cut back to it; refused (exit 3) when there is none or it is another export's. */
  static async resume(path: string, target: RegularTarget, identity: ExportIdentity, gzip: boolean): Promise<SlicedFile> {
    const found = await resumable(path, target, identity);
    const handle = await reopenPart(found);
    const { lastKey, rows, bytes } = found.checkpoint;
    const file = new SlicedFile(path, target, found.part, handle, identity, gzip, { lastKey: lastKey ?? undefined, rows }, bytes);
    // This process owns the part now: a fresh run started meanwhile must leave it alone.
    await file.#save({ lastKey: lastKey ?? undefined, rows }, bytes);
    return file;
  }

  slice(): Writable[] {
    const writer = new SliceWriter(this.#handle!, this.#at, this.path, this.#flush);
    return this.gzip ? [createGzip(), writer] : [writer];
  }

  async checkpoint(position: CheckpointPosition): Promise<void> {
    // The length now, at the slice's end: the next slice may be writing while this syncs.
    const bytes = this.#at.position;
    // The bytes first: a checkpoint must never point past what is on disk.
    await this.#flush.sync();
    await this.#save(position, bytes);
  }

  async #save(position: CheckpointPosition, bytes: number): Promise<void> {
    const checkpoint: CheckpointFile = {
      version: 1,
      ...this.identity,
      output: this.target.path,
      lastKey: position.lastKey ?? null,
      rows: position.rows,
      bytes,
      owner: { host: hostname(), pid: process.pid },
      savedAt: new Date().toISOString(),
    };
    await saveCheckpoint(checkpointPathFor(this.part), checkpoint);
  }

  async commit(): Promise<void> {
    const handle = this.#handle!;
    this.#handle = undefined;
    try {
      await this.#flush.sync();
    } finally {
      await handle.close();
    }
    await rename(this.part, this.target.path).catch((error: Error) => {
      throw new SluiceError('OUTPUT_FAILED', `Cannot write ${this.path}: ${error.message}`, { cause: error });
    });
    trackPartFile(this.part, false);
    await removePart(this.part);
    trackPartFile(checkpointPathFor(this.part), false);
  }

  async discard(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await this.#flush.settle().catch(() => undefined);
    await handle?.close().catch(() => undefined);
    await removePart(this.part);
    trackPartFile(this.part, false);
    trackPartFile(checkpointPathFor(this.part), false);
  }
}

/**
 * The checkpoint a resume continues: this output's, left by a process that is gone, of the same
 * export. Otherwise a refusal that says what differs (or which output has one, when this has none).
 */
async function resumable(path: string, target: RegularTarget, identity: ExportIdentity): Promise<FoundCheckpoint> {
  const refuse = (message: string) => new SluiceError('PRECONDITION_FAILED', `Cannot resume ${path}: ${message}`);
  const mine = await findCheckpoints(dirname(target.path), target.path);
  const left = mine.filter((found) => !ownerAlive(found.checkpoint.owner));
  const same = left.find((found) => identityDifferences(found.checkpoint, identity).length === 0);
  if (same) return same;
  if (left.length > 0) {
    const differences = identityDifferences(left[0]!.checkpoint, identity);
    throw refuse(`its checkpoint is of another export (${differences.join('; ')}). Run with the same options to resume, or without --resume to start over.`);
  }
  if (mine.length > 0) {
    const { owner } = mine[0]!.checkpoint;
    throw refuse(`another run (process ${owner.pid} on ${owner.host}) is still writing it.`);
  }
  const elsewhere = (await findCheckpoints(dirname(target.path))).filter((found) => found.checkpoint.pipeline === identity.pipeline);
  const hint = elsewhere.length > 0 ? ` There is one of ${identity.pipeline} for another output: output: ${JSON.stringify(elsewhere[0]!.checkpoint.output)} then, ${JSON.stringify(target.path)} now.` : '';
  throw refuse(`there is no checkpoint of an interrupted export at this output.${hint} Run without --resume to start it.`);
}
