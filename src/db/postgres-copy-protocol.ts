import type { CopyQuery } from '../core/database.ts';
import type { ToEncoderThread } from './encoder-thread-protocol.ts';
import type { PostgresOptions } from './postgres-options.ts';

/** What a PostgreSQL COPY thread connects with (postgres-copy-worker.ts): the database as the export opened it. */
export interface CopyThreadData {
  readonly connectionString: string;
  readonly label: string;
  readonly options: PostgresOptions;
}

/**
 * To the thread: credits and stop (encoder-thread-protocol.ts), and the part's COPY, to run in
 * the exported `snapshot` (answered by 'begun' once the thread's transaction has imported it).
 */
export type ToCopyThread = ToEncoderThread | { readonly type: 'begin'; readonly query: CopyQuery; readonly snapshot: string };
