import type { ErrorCode } from '../core/errors.ts';

/**
 * What every encoder thread (SQLite's, sqlite-encoder-worker.ts; PostgreSQL's,
 * postgres-copy-worker.ts) and the reader that started it (encoder-thread-reader.ts) say to
 * each other, whatever the database.
 */

/**
 * To the thread: permission to send more chunks, with the buffers of chunks already read (the
 * thread writes the next ones into them, so no memory is allocated per chunk), or stop now.
 */
export type ToEncoderThread =
  | { readonly type: 'credit'; readonly credits: number; readonly buffers: ArrayBuffer[] }
  | { readonly type: 'stop' };

/** From the thread: `length` bytes in `bytes` (with the rows encoded so far), the end, or a failure. */
export type FromEncoderThread =
  | { readonly type: 'chunk'; readonly bytes: ArrayBuffer; readonly length: number; readonly rows: number }
  | { readonly type: 'end'; readonly rowCount: number }
  /** A parallel export's part: its connection is open ('opened'), its snapshot taken ('begun'). */
  | { readonly type: 'opened' | 'begun' }
  | { readonly type: 'error'; readonly code: ErrorCode; readonly message: string };
