import type { Writable } from 'node:stream';
import type { ExportIdentity, SlicedOutput } from './checkpoints.ts';

/**
 * Where an encoder sink's bytes go. A front end picks it (a file for the CLI, the response for
 * HTTP); the run opens it when the first bytes are ready (after the pre-checks, and for
 * `requireRows` pipelines only once a row has reached the sink), joins its streams after the
 * encoder and counts the bytes.
 */
export interface Output {
  /** For logs and the run summary: a path, `stdout`, or `http`. */
  readonly description: string;
  /** Fails before any row is read when the output cannot be written (a directory at the path, say). */
  check?(): void;
  /** Where a parallel export's parts wait their turn when they get ahead (beside the output's file; else the temp folder). */
  readonly spillDir?: string;
  /** Fresh streams for one run, the destination last; each releases what it holds in `_destroy`. */
  open(): Writable[];
  /**
   * The output written in slices with checkpoints (see checkpoints.ts), continuing the last
   * checkpoint of this export when `resume`; undefined where that is not possible (not a plain file).
   * A resume refuses (PRECONDITION_FAILED) when there is no checkpoint or it is another export's.
   */
  sliced?(identity: ExportIdentity, resume: boolean): Promise<SlicedOutput | undefined>;
}
