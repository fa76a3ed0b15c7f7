import { Readable } from 'node:stream';
import { SluiceError } from '../core/errors.ts';
import type { Batch, SourceSpec } from '../core/types.ts';
import { type ImportColumn, type RawValue, mapHeader } from '../format/import-values.ts';
import { type FileSourceConfig, type RowContext, RowBatcher, fileSourceSpec } from './file-source-spec.ts';

/** Excel's day 25,569 is 1970-01-01 (see xlsx-cells.ts for the 1900 leap-year quirk). */
const UNIX_EPOCH_SERIAL = 25_569;
const MS_PER_DAY = 86_400_000;

/** What a cell holds as a plain value: text, a number, a formula's result, rich text joined; undefined when empty. */
function cellValue(value: unknown): RawValue {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  const cell = value as { richText?: Array<{ text: string }>; result?: unknown; text?: string; error?: string };
  if (cell.richText) return cell.richText.map((part) => part.text).join('');
  if ('result' in cell) return cellValue(cell.result);
  if (typeof cell.text === 'string') return cell.text;
  return JSON.stringify(value);
}

/** A timestamp column's date-time serial as ISO text (the workbook's 1900 system); other values as they are. */
function forColumn(value: RawValue, column: ImportColumn | undefined): RawValue {
  if (column?.type !== 'timestamp' || typeof value !== 'number') return value;
  return new Date(Math.round((value - UNIX_EPOCH_SERIAL) * MS_PER_DAY)).toISOString();
}

/**
 * Rows from one worksheet of a workbook (`sheet` by name, or the first), read as a stream (exceljs's WorkbookReader: a
 * million-row workbook is never held whole): the first row is the header, each later one is
 * coerced and checked; a row that fails is rejected with its row number.
 */
export async function* xlsxBatches(input: Readable, config: FileSourceConfig, ctx: RowContext, source: string): AsyncGenerator<Batch> {
  // exceljs loads only now: importing it costs every other command about 150 ms and 20 MB.
  const { default: ExcelJS } = await import('exceljs');
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, { worksheets: 'emit', sharedStrings: 'cache', styles: 'ignore', hyperlinks: 'ignore', entries: 'ignore' });
  // XLSX is never formula-escaped by sluice: nothing to undo unless asked.
  const rows = new RowBatcher(config, ctx, false);
  let fields: number[] | undefined;
  let header: string[] = [];
  let read = false;
  const names: string[] = [];
  try {
    for await (const sheet of reader) {
      const name = (sheet as { name?: string }).name ?? `Sheet${names.length + 1}`;
      names.push(name);
      if (read || (config.sheet !== undefined && name !== config.sheet)) {
        for await (const _row of sheet); // other sheets are read past, not imported
        continue;
      }
      read = true;
      for await (const row of sheet) {
        const cells = (row.values as unknown[]).slice(1).map(cellValue);
        if (!fields) {
          header = cells.map((cell) => (cell === undefined ? '' : String(cell)));
          fields = mapHeader(header, config.columns, config.mapping).fields;
          continue;
        }
        const raw = (column: number): RawValue => (fields![column]! < 0 ? undefined : forColumn(cells[fields![column]!], config.columns[column]));
        const full = rows.add(raw, `row ${row.number}`, () => Object.fromEntries(header.map((name, i) => [name, cells[i] ?? null])));
        if (full) yield full;
      }
    }
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('INPUT_FAILED', `${source}: not a readable XLSX workbook (${(error as Error).message}).`, { cause: error });
  } finally {
    input.destroy();
  }
  if (config.sheet !== undefined && !read) throw new SluiceError('INPUT_FAILED', `${source}: no sheet named "${config.sheet}" (its sheets: ${names.map((n) => `"${n}"`).join(', ') || 'none'}).`);
  if (!fields || header.length === 0) throw new SluiceError('INPUT_FAILED', `${source}: the ${config.sheet === undefined ? 'workbook' : `sheet "${config.sheet}"`} has no header row.`);
  const rest = rows.rest();
  if (rest) yield rest;
}

/** Rows from the run's XLSX input, validated against the columns. XLSX is never formula-escaped by sluice: nothing is undone. */
export function xlsxSource(config: FileSourceConfig): SourceSpec<{}> {
  return fileSourceSpec('source.xlsx', `XLSX, ${config.sheet === undefined ? 'the first sheet' : `the sheet "${config.sheet}"`}, with a header row`, config, (input, ctx) => Readable.from(xlsxBatches(input.open(), config, ctx, input.description)));
}
