import { Transform } from 'node:stream';
import type { Batch } from '../core/types.ts';

/**
 * The thin stream wrapper around a pure batch encoder: `Row[]` in, UTF-8 bytes out. The
 * preamble (BOM, header row) is written even when there are no rows, so an empty export is
 * still a valid file.
 */
export function encoderStream(preamble: string, encode: (batch: Batch) => string): Transform {
  let started = false;
  const start = (stream: Transform) => {
    if (!started && preamble) stream.push(preamble);
    started = true;
  };
  return new Transform({
    writableObjectMode: true,
    writableHighWaterMark: 2,
    transform(batch: Batch, _encoding, callback) {
      start(this);
      callback(null, encode(batch));
    },
    flush(callback) {
      start(this);
      callback();
    },
  });
}
