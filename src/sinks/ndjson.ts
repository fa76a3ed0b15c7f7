import type { EncoderSinkSpec } from '../core/types.ts';
import { encodeNdjsonBatch } from '../format/ndjson.ts';
import { encoderStream } from './encoder-stream.ts';

/**
 * Newline-delimited JSON, one object per row: for integrations. No formula escape: JSON is read
 * by programs, not opened in spreadsheets, and values must arrive as they are stored.
 */
export function ndjsonSink(): EncoderSinkSpec<{}> {
  return {
    kind: 'sink.ndjson',
    type: 'encoder',
    summary: 'NDJSON (one JSON object per line, UTF-8; 64-bit integers beyond 2^53 as text)',
    format: { extension: 'ndjson', contentType: 'application/x-ndjson' },
    open: (_ctx, columns) => encoderStream('', (batch) => encodeNdjsonBatch(batch, columns)),
  };
}
