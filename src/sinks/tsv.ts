import type { EncoderSinkSpec } from '../core/types.ts';
import { encodeTsvBatch, tsvHeader } from '../format/tsv.ts';
import { encoderStream } from './encoder-stream.ts';
import { ESCAPE_FORMULAS_PARAM, type FormulaParams } from './formula-option.ts';

export interface TsvSinkConfig {
  readonly header?: boolean;
}

/** Tab-separated values, one record per line (PostgreSQL text-format escapes), formula-escaped by default. */
export function tsvSink(config: TsvSinkConfig = {}): EncoderSinkSpec<FormulaParams> {
  const header = config.header ?? true;
  return {
    kind: 'sink.tsv',
    type: 'encoder',
    summary: `TSV (UTF-8, \\t \\n \\r \\\\ escapes${header ? ', header row' : ''})`,
    format: { extension: 'tsv', contentType: 'text/tab-separated-values; charset=utf-8' },
    params: { escapeFormulas: ESCAPE_FORMULAS_PARAM },
    sliceable: true,
    open(ctx, columns, { continuing = false } = {}) {
      const options = { escapeFormulas: ctx.params.escapeFormulas };
      return encoderStream(header && !continuing ? tsvHeader(columns) : '', (batch) => encodeTsvBatch(batch, columns, options));
    },
    sqlEncoding: (ctx) => ({ format: 'text', header, escapeFormulas: ctx.params.escapeFormulas, preamble: '' }),
  };
}
