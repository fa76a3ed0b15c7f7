import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { SluiceError } from '../core/errors.ts';
import type { Batch, SourceSpec } from '../core/types.ts';
import { emptyFieldsAsNull } from '../format/csv-quoting.ts';
import { type RawValue, mapHeader } from '../format/import-values.ts';
import { type FileSourceConfig, type RowContext, RowBatcher, fileSourceSpec } from './file-source-spec.ts';

export type { FileSourceConfig } from './file-source-spec.ts';

interface CsvRecord {
  readonly record: string[];
  /** The record's text as read, its delimiter and any empty lines skipped before it included. */
  readonly raw: string;
}

/**
 * Line breaks in `text` as an editor counts them: CRLF once (csv-parse's own count takes a CRLF
 * inside a quoted field as two lines, and would point a rejection at the wrong line). With
 * `leadingOnly`, only those before the first other character: the empty lines skipped before a
 * record.
 */
function lineBreaks(text: string, leadingOnly = false): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) count++;
    else if (leadingOnly && c !== 13) break;
  }
  return count;
}

/**
 * The records of a CSV stream (RFC 4180, UTF-8 with or without BOM): an empty unquoted field is
 * NULL, a quoted one empty text, as sluice's CSV exports (and PostgreSQL's) write them.
 */
function csvRecords(input: Readable): AsyncIterable<CsvRecord> {
  // No `cast` callback: csv-parse builds a context object per field for it, which took three
  // quarters of an import's time (see emptyFieldsAsNull for what it was there to tell).
  const parser = parse({ bom: true, raw: true, relax_column_count: true, skip_empty_lines: true });
  // pipeline owns both ends: an input error destroys the parser (whose reader then throws it),
  // and a reader that stops early destroys the parser and with it the input.
  pipeline(input, parser).catch(() => undefined);
  return parser as AsyncIterable<CsvRecord>;
}

/** Rows from CSV records: the header maps fields to columns, each value is coerced, a record that fails is rejected with its line. */
export async function* csvBatches(records: AsyncIterable<CsvRecord>, config: FileSourceConfig, ctx: RowContext, source: string): AsyncGenerator<Batch> {
  let fields: number[] | undefined;
  let header: readonly string[] = [];
  // Exports escape formulas in CSV: an import takes the escape off unless told not to.
  const rows = new RowBatcher(config, ctx, true);
  let line = 1;
  try {
    for await (const { record: fieldsAsRead, raw: text } of records) {
      const record = emptyFieldsAsNull(fieldsAsRead, text);
      const at = line + lineBreaks(text, true);
      line += lineBreaks(text);
      if (!fields) {
        header = record.map((name) => name ?? '');
        fields = mapHeader(header, config.columns, config.mapping).fields;
        continue;
      }
      const values = () => Object.fromEntries(header.map((name, i) => [name, record[i] ?? null]));
      if (record.length !== header.length) {
        ctx.reject({ where: `line ${at}`, reason: `${record.length} field(s) where the header has ${header.length}`, values: values() });
        continue;
      }
      const raw = (column: number): RawValue => (fields![column]! < 0 ? null : record[fields![column]!]);
      const full = rows.add(raw, `line ${at}`, values);
      if (full) yield full;
    }
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    const where = (error as { lines?: number }).lines;
    throw new SluiceError('INPUT_FAILED', `${source}${where === undefined ? '' : `, line ${where}`}: not valid CSV (${(error as Error).message}).`, { cause: error });
  }
  if (!fields) throw new SluiceError('INPUT_FAILED', `${source}: empty, not even a header row.`);
  const rest = rows.rest();
  if (rest) yield rest;
}

/** Rows from the run's CSV input (a file, stdin, a request body), validated against the columns. */
export function csvSource(config: FileSourceConfig): SourceSpec<{}> {
  return fileSourceSpec('source.csv', 'CSV with a header row', config, (input, ctx) => Readable.from(csvBatches(csvRecords(input.open()), config, ctx, input.description)));
}
