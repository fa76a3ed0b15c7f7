import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { SluiceError } from '../core/errors.ts';

type Callback = (error?: Error | null) => void;

/**
 * Writes to `<path>.part` and renames it to `path` only after every byte is written and synced.
 * On error or abort the part file is removed, and whatever was at `path` before is untouched:
 * a file at `path` is always complete.
 */
export class AtomicFileWriter extends Writable {
  readonly path: string;
  readonly partPath: string;
  bytesWritten = 0;
  #handle: FileHandle | undefined;
  #committed = false;

  constructor(path: string) {
    super({ highWaterMark: 1 << 20 });
    this.path = path;
    this.partPath = `${path}.part`;
  }

  override _construct(callback: Callback): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
    } catch (error) {
      return callback(this.#failure(error));
    }
    open(this.partPath, 'w').then(
      (handle) => {
        this.#handle = handle;
        callback();
      },
      (error: unknown) => callback(this.#failure(error)),
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    const buffers = chunks.map((c) => c.chunk);
    this.#handle!.writev(buffers).then(
      ({ bytesWritten }) => {
        this.bytesWritten += bytesWritten;
        callback();
      },
      (error: unknown) => callback(this.#failure(error)),
    );
  }

  override _final(callback: Callback): void {
    const handle = this.#handle!;
    handle
      .datasync()
      .then(() => handle.close())
      .then(() => {
        this.#handle = undefined;
        return rename(this.partPath, this.path);
      })
      .then(
        () => {
          this.#committed = true;
          callback();
        },
        (error: unknown) => callback(this.#failure(error)),
      );
  }

  override _destroy(error: Error | null, callback: Callback): void {
    if (this.#committed) return callback(error);
    const handle = this.#handle;
    this.#handle = undefined;
    Promise.resolve(handle?.close())
      .catch(() => undefined)
      .then(() => rm(this.partPath, { force: true }))
      .then(
        () => callback(error),
        () => callback(error),
      );
  }

  #failure(error: unknown): SluiceError {
    const detail = error instanceof Error ? error.message : String(error);
    return new SluiceError('OUTPUT_FAILED', `Cannot write ${this.path}: ${detail}`, { cause: error });
  }
}
