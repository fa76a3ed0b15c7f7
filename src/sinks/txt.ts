import { SluiceError } from '../core/errors.ts';
import type { Columns, EncoderSinkSpec } from '../core/types.ts';
import { encodeLinesBatch } from '../format/tsv.ts';
import { encoderStream } from './encoder-stream.ts';
import { ESCAPE_FORMULAS_PARAM, type FormulaParams } from './formula-option.ts';

function requireOneColumn(columns: Columns): void {
  if (columns.length !== 1) {
    throw new SluiceError('INVALID_DEFINITION', `writes one value per line, but the rows have ${columns.length} columns (${columns.map((c) => c.name).join(', ')}); select one.`);
  }
}

/** Plain text, one value per line, no header, formula-escaped by default: the source must yield exactly one column. */
export function txtSink(): EncoderSinkSpec<FormulaParams> {
  return {
    kind: 'sink.txt',
    type: 'encoder',
    summary: 'Plain text, one value per line',
    format: { extension: 'txt', contentType: 'text/plain; charset=utf-8' },
    params: { escapeFormulas: ESCAPE_FORMULAS_PARAM },
    check: requireOneColumn,
    // No preamble: a continuation is the same bytes.
    sliceable: true,
    open(ctx, columns) {
      requireOneColumn(columns);
      const options = { escapeFormulas: ctx.params.escapeFormulas };
      return encoderStream('', (batch) => encodeLinesBatch(batch, columns, options));
    },
    sqlEncoding(ctx, columns) {
      requireOneColumn(columns);
      return { format: 'text', header: false, escapeFormulas: ctx.params.escapeFormulas, preamble: '' };
    },
  };
}
