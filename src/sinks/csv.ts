import type { EncoderSinkSpec, StageContext } from '../core/types.ts';
import { csvHeader, encodeCsvBatch } from '../format/csv.ts';
import { encoderStream } from './encoder-stream.ts';
import { ESCAPE_FORMULAS_PARAM } from './formula-option.ts';

const CSV_PARAMS = {
  bom: { type: 'boolean', default: false, description: 'Start the file with a UTF-8 byte order mark (helps Excel detect UTF-8)' },
  escapeFormulas: ESCAPE_FORMULAS_PARAM,
} as const;

type CsvParams = typeof CSV_PARAMS;

const bom = (ctx: StageContext<CsvParams>): string => (ctx.params.bom ? '\uFEFF' : '');

export interface CsvSinkConfig {
  readonly header?: boolean;
}

/** RFC 4180 CSV (quotes only where needed), formula-escaped by default. */
export function csvSink(config: CsvSinkConfig = {}): EncoderSinkSpec<CsvParams> {
  const header = config.header ?? true;
  return {
    kind: 'sink.csv',
    type: 'encoder',
    summary: `CSV (RFC 4180 quoting, LF line ends, UTF-8${header ? ', header row' : ''})`,
    format: { extension: 'csv', contentType: 'text/csv; charset=utf-8' },
    params: CSV_PARAMS,
    sliceable: true,
    open(ctx, columns, { continuing = false } = {}) {
      const options = { escapeFormulas: ctx.params.escapeFormulas };
      const preamble = continuing ? '' : bom(ctx) + (header ? csvHeader(columns) : '');
      return encoderStream(preamble, (batch) => encodeCsvBatch(batch, columns, options));
    },
    sqlEncoding: (ctx) => ({ format: 'csv', header, escapeFormulas: ctx.params.escapeFormulas, preamble: bom(ctx) }),
  };
}
