import type { EncodedStream } from '../core/types.ts';

/**
 * A parallel export's readers: `parts` in key order (only the first writes the header), all
 * reading one snapshot; or no parts, when the export must run on one reader, and `reason` says why.
 */
export interface EncodedParts {
  readonly parts?: readonly EncodedStream[];
  readonly readers: number;
  readonly reason: string;
}

export interface PartsRequest {
  /** Readers wanted; fewer run when the data or the database cannot use them. */
  readonly parallel: number;
  readonly batchSize: number;
  /** The order is a unique key (`uniqueOrderBy`): a part may read its range in pages of it. */
  readonly uniqueKey?: boolean;
}

/** Destroys every part and resolves once each has closed (released its connection or ended its worker). */
export function destroyParts(parts: readonly EncodedStream[], error?: Error): Promise<void> {
  const closed = parts.map((part) => (part.closed ? undefined : new Promise<void>((resolve) => part.once('close', () => resolve()))));
  for (const part of parts) part.destroy(error);
  return Promise.all(closed).then(() => undefined);
}

/** Resolves with the event's value when `part` emits `event`, rejects if it fails or closes first. */
export function partEvent<T = void>(part: EncodedStream, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    if (part.closed || part.errored) return reject(part.errored ?? new Error(`A part of the export closed before it ${event}.`));
    let value: T;
    const done = (error?: Error) => {
      part.removeListener(event, onEvent);
      part.removeListener('error', done);
      part.removeListener('close', onClose);
      if (error) reject(error);
      else resolve(value);
    };
    const onEvent = (emitted: T) => {
      value = emitted;
      done();
    };
    const onClose = () => done(part.errored ?? new Error(`A part of the export closed before it ${event}.`));
    part.once(event, onEvent);
    part.once('error', done);
    part.once('close', onClose);
  });
}
