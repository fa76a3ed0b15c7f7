import type { EncoderSinkSpec } from '../core/types.ts';
import { encodeTsvBatch, tsvHeader } from '../format/tsv.ts';
import { encoderStream } from './encoder-stream.ts';

/** Tab-separated values, one record per line (PostgreSQL text-format escapes). */
export function tsvSink(config: { readonly header?: boolean } = {}): EncoderSinkSpec {
  const header = config.header ?? true;
  return {
    kind: 'sink.tsv',
    type: 'encoder',
    summary: `TSV (UTF-8, \\t \\n \\r \\\\ escapes${header ? ', header row' : ''})`,
    format: { extension: 'tsv', contentType: 'text/tab-separated-values; charset=utf-8' },
    open(_ctx, columns) {
      return encoderStream(header ? tsvHeader(columns) : '', (batch) => encodeTsvBatch(batch, columns.length));
    },
    sqlEncoding: () => ({ format: 'text', header, escapeFormulas: false, preamble: '' }),
  };
}
