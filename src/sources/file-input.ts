import type { SourceSpec } from '../core/types.ts';
import { SluiceError } from '../core/errors.ts';
import { INPUT_FORMATS } from '../core/input.ts';
import { csvSource } from './csv-file.ts';
import type { FileSourceConfig } from './file-source-spec.ts';
import { ndjsonSource } from './ndjson-file.ts';
import { xlsxSource } from './xlsx-file.ts';

/**
 * Rows from the run's input in whichever format it is (`--in x.csv`, `--format ndjson`, a
 * request's Content-Type): CSV, NDJSON or XLSX, each validated against the same columns.
 */
export function fileSource(config: FileSourceConfig): SourceSpec<{}> {
  const readers = { csv: csvSource(config), ndjson: ndjsonSource(config), xlsx: xlsxSource(config) } as const;
  return {
    kind: 'source.file',
    summary: `CSV, NDJSON or XLSX with a header or keys naming the columns (${config.columns.map((c) => c.name).join(', ')})`,
    readsInput: true,
    columns: readers.csv.columns,
    open(ctx) {
      const input = ctx.input();
      const format = input.format;
      if (format === undefined) throw new SluiceError('USAGE', `Cannot tell the format of ${input.description}: name it with --format (${INPUT_FORMATS.join(', ')}) or a file extension (.csv, .ndjson, .jsonl, .xlsx).`);
      return readers[format].open(ctx);
    },
  };
}
