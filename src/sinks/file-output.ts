import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { SluiceError } from '../core/errors.ts';
import type { Output } from '../core/output.ts';
import { AtomicFileWriter } from './atomic-file.ts';

/** An atomic file; a path ending in `.gz` is gzip-compressed. */
export function fileOutput(path: string): Output {
  return {
    description: path,
    open: () => (path.endsWith('.gz') ? [createGzip(), new AtomicFileWriter(path)] : [new AtomicFileWriter(path)]),
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
