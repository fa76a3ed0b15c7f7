import { Transform, Writable } from 'node:stream';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { Batch, Columns, EncoderSinkSpec, StageContext } from '../core/types.ts';
import { MAX_CELL_TEXT } from '../format/xlsx-cells.ts';
import { type CellIssue, columnLetters, headerRowXml, rowsXml } from '../format/xlsx-sheet-xml.ts';
import { EXCEL_MAX_ROWS, type SheetPosition, columnWidths, planRows, sheetName, validateSheetBaseName } from '../format/xlsx-sheets.ts';
import type { StreamingSheet, StreamingWorkbook } from './xlsx-workbook.ts';

export interface XlsxSinkConfig {
  /** The first sheet's name; later sheets are `<name> (2)`, `<name> (3)`, ... Default `Sheet1`, as Excel's. */
  readonly sheetName?: string;
  /** Rows per sheet, header included, before the next sheet starts. Default (and most): Excel's 1,048,576. */
  readonly maxRowsPerSheet?: number;
  /** Excel number format for timestamps (shown in UTC). */
  readonly dateFormat?: string;
}

interface Settings {
  readonly sheetName: string;
  readonly maxRowsPerSheet: number;
  readonly dateFormat: string;
}

/** Individual truncations logged before they are only counted. */
const LOGGED_ISSUES = 5;

/**
 * Batches in, the bytes of an XLSX file out. Each batch's callback waits until the zip has taken
 * in the batch's rows and the readable side's consumer has caught up, so memory holds a batch or
 * two however many rows arrive.
 */
class XlsxEncoder extends Transform {
  readonly #ctx: StageContext;
  readonly #columns: Columns;
  readonly #settings: Settings;
  #workbook: StreamingWorkbook | undefined;
  #output: Writable | undefined;
  #sheet: StreamingSheet | undefined;
  #sheetIndex = -1;
  #widths: number[] = [];
  #position: SheetPosition = { sheet: 0, rows: 0 };
  /** The zip's pending write, held while our readable side is full. */
  #pendingOutput: (() => void) | undefined;
  #issues = { truncated: 0, stripped: 0 };

  constructor(ctx: StageContext, columns: Columns, settings: Settings) {
    super({ writableObjectMode: true, writableHighWaterMark: 1, readableHighWaterMark: 256 * 1024 });
    this.#ctx = ctx;
    this.#columns = columns;
    this.#settings = settings;
  }

  override _transform(batch: Batch, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#write(batch).then(() => callback(), (error: unknown) => callback(this.#failure(error)));
  }

  override _flush(callback: (error?: Error | null) => void): void {
    this.#finish().then(() => callback(), (error: unknown) => callback(this.#failure(error)));
  }

  override _read(size: number): void {
    const pending = this.#pendingOutput;
    this.#pendingOutput = undefined;
    pending?.();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#pendingOutput = undefined;
    this.#workbook?.abort();
    this.#output?.destroy();
    callback(error);
  }

  async #write(batch: Batch): Promise<void> {
    await this.#start(batch);
    const plan = planRows(this.#position, batch.length, this.#settings.maxRowsPerSheet);
    for (const segment of plan.segments) {
      const sheet = await this.#sheetAt(segment.sheet);
      const { xml, issues } = rowsXml(batch, segment.start, segment.end, segment.firstRow, this.#columns, this.#workbook!.styles);
      if (issues.length > 0) this.#report(issues, segment.sheet);
      await sheet.write(xml);
      if (this.destroyed) return;
    }
    this.#position = plan.next;
  }

  async #finish(): Promise<void> {
    await this.#start([]);
    await this.#sheetAt(this.#position.sheet); // an export without rows is a header-only sheet
    this.#sheet!.commit();
    await this.#workbook!.commit();
    const { truncated } = this.#issues;
    if (truncated > LOGGED_ISSUES) this.#ctx.logger.warn({ cells: truncated, limit: MAX_CELL_TEXT }, `${truncated} text cells were longer than Excel's cell limit and were truncated`);
  }

  /**
   * The workbook opens with the first batch, whose values size the columns. exceljs loads only
   * now: importing it costs every other pipeline about 20 MB.
   */
  async #start(sample: Batch): Promise<void> {
    if (this.#workbook) return;
    const { StreamingWorkbook } = await import('./xlsx-workbook.ts');
    if (this.#workbook || this.destroyed) return;
    this.#widths = columnWidths(this.#columns, sample);
    this.#output = new Writable({
      highWaterMark: 64 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.push(chunk)) callback();
        else this.#pendingOutput = callback;
      },
    });
    this.#workbook = new StreamingWorkbook(this.#output, {
      dateFormat: this.#settings.dateFormat,
      onError: (error) => this.destroy(this.#failure(error)),
    });
  }

  /** A sheet is committed before the next one opens; each starts with the header row. */
  async #sheetAt(index: number): Promise<StreamingSheet> {
    if (index === this.#sheetIndex) return this.#sheet!;
    this.#sheet?.commit();
    this.#sheetIndex = index;
    const filter = `A1:${columnLetters(this.#columns.length - 1)}1`;
    this.#sheet = this.#workbook!.addSheet(sheetName(this.#settings.sheetName, index), this.#widths, filter);
    await this.#sheet.write(headerRowXml(this.#columns, this.#workbook!.styles));
    return this.#sheet;
  }

  #report(issues: readonly CellIssue[], sheet: number): void {
    for (const { row, column, cell } of issues) {
      const where = { sheet: sheetName(this.#settings.sheetName, sheet), row, column };
      if (cell.truncatedFrom !== undefined) {
        this.#ctx.metrics.warn('truncatedCells');
        if (++this.#issues.truncated <= LOGGED_ISSUES) {
          this.#ctx.logger.warn({ ...where, length: cell.truncatedFrom, limit: MAX_CELL_TEXT }, `text longer than Excel's ${MAX_CELL_TEXT}-character cell limit was truncated`);
        }
      }
      if (cell.stripped) {
        this.#ctx.metrics.warn('strippedCells');
        if (++this.#issues.stripped === 1) this.#ctx.logger.warn(where, 'removed characters that an XLSX file cannot hold (control characters); further cells are only counted');
      }
    }
  }

  #failure(error: unknown): SluiceError {
    return toSluiceError(error, 'OUTPUT_FAILED', 'Cannot write the XLSX file');
  }
}

function requireColumns(columns: Columns): void {
  if (columns.length === 0) throw new SluiceError('INVALID_DEFINITION', 'needs at least one column.');
}

/**
 * An Excel workbook (exceljs's streaming writer, with backpressure): a bold, frozen, filtered
 * header; integers as numbers, timestamps as UTC date-times, all else as text; a new sheet
 * before Excel's row limit.
 */
export function xlsxSink(config: XlsxSinkConfig = {}): EncoderSinkSpec<{}> {
  const settings: Settings = {
    sheetName: config.sheetName ?? 'Sheet1',
    maxRowsPerSheet: config.maxRowsPerSheet ?? EXCEL_MAX_ROWS,
    dateFormat: config.dateFormat ?? 'yyyy-mm-dd hh:mm:ss.000',
  };
  validateSheetBaseName(settings.sheetName);
  planRows({ sheet: 0, rows: 0 }, 0, settings.maxRowsPerSheet); // rejects an impossible limit at definition time
  return {
    kind: 'sink.xlsx',
    type: 'encoder',
    summary: `Excel workbook (sheets "${sheetName(settings.sheetName, 0)}", "${sheetName(settings.sheetName, 1)}", ... of at most ${settings.maxRowsPerSheet.toLocaleString('en-US')} rows)`,
    format: { extension: 'xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
    check: requireColumns,
    open(ctx, columns) {
      requireColumns(columns);
      return new XlsxEncoder(ctx, columns, settings);
    },
  };
}
