import { SluiceError } from '../core/errors.ts';
import type { Columns, EncoderSinkSpec } from '../core/types.ts';
import { encodeLinesBatch } from '../format/tsv.ts';
import { encoderStream } from './encoder-stream.ts';

function requireOneColumn(columns: Columns): void {
  if (columns.length !== 1) {
    throw new SluiceError('INVALID_DEFINITION', `sink.txt writes one value per line, but the rows have ${columns.length} columns.`);
  }
}

/** Plain text, one value per line, no header: the source must yield exactly one column. */
export function txtSink(): EncoderSinkSpec {
  return {
    kind: 'sink.txt',
    type: 'encoder',
    summary: 'Plain text, one value per line',
    format: { extension: 'txt', contentType: 'text/plain; charset=utf-8' },
    open(_ctx, columns) {
      requireOneColumn(columns);
      return encoderStream('', encodeLinesBatch);
    },
    sqlEncoding(_ctx, columns) {
      requireOneColumn(columns);
      return { format: 'text', header: false, escapeFormulas: false, preamble: '' };
    },
  };
}
