import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { SluiceError } from '../core/errors.ts';
import type { Output } from '../core/output.ts';
import { AtomicFileWriter, checkOutputPath, resolveTarget } from './atomic-file.ts';
import { SlicedFile } from './sliced-file.ts';
import { specialFileWriter } from './special-file.ts';

export { checkOutputPath, writeFileAtomically } from './atomic-file.ts';

/** Whether a path asks for gzip: it ends in `.gz`, in any case (`X.CSV.GZ`). */
export function isGzipPath(path: string): boolean {
  return /\.gz$/i.test(path);
}

/**
 * The writer for a path: an atomic file (see AtomicFileWriter), or, for a FIFO or a device
 * (`/dev/null`), the thing itself, written straight into and never replaced.
 */
export function fileWriter(path: string): Writable {
  const target = resolveTarget(path);
  return target.kind === 'file' ? new AtomicFileWriter(path, target) : specialFileWriter(target);
}

/** A regular file's folder (a parallel export's parts spill beside it, on the same disk); else the temp folder. */
function spillDirFor(path: string): string {
  try {
    const target = resolveTarget(path);
    return target.kind === 'file' ? dirname(target.path) : tmpdir();
  } catch {
    return tmpdir();
  }
}

/** A file (see fileWriter); a path ending in `.gz` is gzip-compressed. */
export function fileOutput(path: string): Output {
  return {
    description: path,
    get spillDir() {
      return spillDirFor(path);
    },
    check: () => checkOutputPath(path),
    open: () => (isGzipPath(path) ? [createGzip(), fileWriter(path)] : [fileWriter(path)]),
    async sliced(identity, resume) {
      const target = resolveTarget(path);
      if (target.kind !== 'file') return undefined;
      return resume ? SlicedFile.resume(path, target, identity, isGzipPath(path)) : SlicedFile.fresh(path, target, identity, isGzipPath(path));
    },
  };
}

function stdoutError(error: Error): SluiceError {
  return (error as { code?: unknown }).code === 'EPIPE'
    ? new SluiceError('OUTPUT_CLOSED', 'stdout was closed before the export finished.', { cause: error })
    : new SluiceError('OUTPUT_FAILED', `Cannot write to stdout: ${error.message}`, { cause: error });
}

/**
 * Standard output, with backpressure, left open at the end (other output may follow). A closed
 * pipe (`| head`) ends the run with an error instead of writing into the void.
 */
export function stdoutOutput(stdout: NodeJS.WritableStream & { writableNeedDrain?: boolean } = process.stdout): Output {
  return {
    description: 'stdout',
    open: () => [
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          const onError = (error: Error) => callback(stdoutError(error));
          stdout.once('error', onError);
          const done = () => {
            stdout.removeListener('error', onError);
            callback();
          };
          if (stdout.write(chunk)) done();
          else stdout.once('drain', done);
        },
      }),
    ],
  };
}

export function outputForPath(path: string): Output {
  return path === '-' ? stdoutOutput() : fileOutput(path);
}
