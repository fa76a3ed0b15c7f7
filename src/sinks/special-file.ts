import { constants, createWriteStream, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { SluiceError } from '../core/errors.ts';
import type { FileTarget } from './atomic-file.ts';

type Callback = (error?: Error | null) => void;

const READER_POLL_MS = 50;

function failure(path: string, error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'EPIPE') return new SluiceError('OUTPUT_CLOSED', `The reader of ${path} went away before the export finished.`, { cause: error });
  return new SluiceError('OUTPUT_FAILED', `Cannot write ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/**
 * A FIFO, written without ever blocking a thread: opened non-blocking once a reader is there
 * (polled, so an abort while nobody reads returns at once) and written through libuv's pipe
 * handle. A blocking open or write would park a thread-pool thread in the kernel, and Node
 * cannot even exit while one is parked.
 */
class FifoWriter extends Writable {
  readonly #path: string;
  #socket: Socket | undefined;

  constructor(path: string) {
    super({ highWaterMark: 1 << 16 });
    this.#path = path;
  }

  override _construct(callback: Callback): void {
    this.#connect().then(
      () => callback(),
      (error: unknown) => callback(failure(this.#path, error)),
    );
  }

  async #connect(): Promise<void> {
    for (;;) {
      if (this.destroyed) return;
      try {
        // Non-blocking, this open answers at once: a descriptor, or ENXIO while no reader is there.
        const fd = openSync(this.#path, constants.O_WRONLY | constants.O_NONBLOCK);
        const socket = new Socket({ fd, readable: false, writable: true });
        this.#socket = socket;
        socket.on('error', (error) => this.destroy(failure(this.#path, error)));
        return;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ENXIO') throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, READER_POLL_MS));
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#socket!.write(chunk, (error) => callback(error ? failure(this.#path, error) : null));
  }

  override _final(callback: Callback): void {
    this.#socket!.end(() => callback());
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#socket?.destroy();
    callback(error);
  }
}

/** A device (`/dev/null`, a tape): written straight into with ordinary writes. */
function deviceWriter(path: string): Writable {
  const stream = createWriteStream(path, { flags: 'w' });
  return new Writable({
    highWaterMark: 1 << 16,
    write(chunk: Buffer, _encoding, callback) {
      stream.write(chunk, (error) => callback(error ? failure(path, error) : null));
    },
    final(callback) {
      stream.end(() => callback());
    },
    destroy(error, callback) {
      stream.destroy();
      callback(error);
    },
  });
}

/** A writer for what is not a regular file: nothing is replaced, no part file is involved. */
export function specialFileWriter(target: FileTarget & { kind: 'fifo' | 'device' }): Writable {
  return target.kind === 'fifo' ? new FifoWriter(target.path) : deviceWriter(target.path);
}
