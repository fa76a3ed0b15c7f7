import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { SluiceError } from './errors.ts';

/** The file formats an import reads. */
export const INPUT_FORMATS = ['csv', 'ndjson', 'xlsx'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/**
 * The bytes a file source reads: a file, stdin or an HTTP request body. A front end makes it;
 * the source opens it once and owns the stream from then on.
 */
export interface Input {
  /** For messages and rejects: a path, `stdin`, `the request body`. */
  readonly description: string;
  /** Undefined: the source's own (a source that reads one format), else an error. */
  readonly format: InputFormat | undefined;
  open(): Readable;
}

const BY_EXTENSION: Readonly<Record<string, InputFormat>> = { '.csv': 'csv', '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.xlsx': 'xlsx' };

/** `x.csv` is CSV, `x.jsonl` NDJSON; undefined when the name does not say. */
export function formatOfPath(path: string): InputFormat | undefined {
  return BY_EXTENSION[extname(path).toLowerCase()];
}

/** A file to read (`-`: stdin), checked now so a bad path fails before anything runs. */
export function inputForPath(path: string, format?: InputFormat): Input {
  if (path === '-') return { description: 'stdin', format, open: () => process.stdin };
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    throw new SluiceError('USAGE', `--in ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`, { cause: error });
  }
  if (!isFile) throw new SluiceError('USAGE', `--in ${path}: not a file.`);
  return { description: path, format: format ?? formatOfPath(path), open: () => createReadStream(path) };
}
