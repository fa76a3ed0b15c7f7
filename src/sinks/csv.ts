import type { EncoderSinkSpec, StageContext } from '../core/types.ts';
import { csvHeader, encodeCsvBatch } from '../format/csv.ts';
import { encoderStream } from './encoder-stream.ts';

const bom = (ctx: StageContext): string => (ctx.params.bom === true ? '\uFEFF' : '');

export interface CsvSinkConfig {
  readonly header?: boolean;
}

/** RFC 4180 CSV (quotes only where needed), formula-escaped by default. */
export function csvSink(config: CsvSinkConfig = {}): EncoderSinkSpec {
  const header = config.header ?? true;
  return {
    kind: 'sink.csv',
    type: 'encoder',
    summary: `CSV (RFC 4180 quoting, LF line ends, UTF-8${header ? ', header row' : ''})`,
    format: { extension: 'csv', contentType: 'text/csv; charset=utf-8' },
    params: {
      bom: { type: 'boolean', default: false, description: 'Start the file with a UTF-8 byte order mark (helps Excel detect UTF-8)' },
      escapeFormulas: { type: 'boolean', default: true, description: "Prefix formula-looking text cells with ' so spreadsheets show them as text" },
    },
    open(ctx, columns) {
      const options = { escapeFormulas: ctx.params.escapeFormulas !== false };
      const preamble = bom(ctx) + (header ? csvHeader(columns) : '');
      return encoderStream(preamble, (batch) => encodeCsvBatch(batch, columns, options));
    },
    sqlEncoding: (ctx) => ({ format: 'csv', header, escapeFormulas: ctx.params.escapeFormulas !== false, preamble: bom(ctx) }),
  };
}
