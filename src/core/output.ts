import type { Writable } from 'node:stream';

/**
 * Where an encoder sink's bytes go. A front end picks it (a file for the CLI, the response for
 * HTTP); the run joins its streams after the encoder and counts the bytes.
 */
export interface Output {
  /** For logs and the run summary: a path, `stdout`, or `http`. */
  readonly description: string;
  /** Fresh streams for one run, the destination last; each releases what it holds in `_destroy`. */
  open(): Writable[];
}
