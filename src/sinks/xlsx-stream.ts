import { Transform, Writable } from 'node:stream';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { Columns, StageContext } from '../core/types.ts';
import { MAX_CELL_TEXT } from '../format/xlsx-cells.ts';
import type { SheetCellIssue, SheetPiece } from '../format/xlsx-sheet-data.ts';
import { SHEET_STYLES, columnLetters, headerRowXml } from '../format/xlsx-sheet-xml.ts';
import { columnWidths, sheetName } from '../format/xlsx-sheets.ts';
import type { StreamingSheet, StreamingWorkbook } from './xlsx-workbook.ts';

export interface XlsxSettings {
  readonly sheetName: string;
  readonly maxRowsPerSheet: number;
  readonly dateFormat: string;
}

/** Individual truncations logged before they are only counted. */
const LOGGED_ISSUES = 5;

/**
 * Sheet pieces in (src/format/xlsx-sheet-data.ts), the bytes of an XLSX file out. A write
 * resolves once the zip has taken in the pieces and the readable side's consumer has caught
 * up, so memory holds a batch or two however many rows arrive. Its subclasses take batches
 * or a worker's encoded bytes (xlsx.ts).
 */
export abstract class XlsxStream extends Transform {
  readonly #ctx: StageContext;
  readonly #columns: Columns;
  readonly #settings: XlsxSettings;
  #workbook: StreamingWorkbook | undefined;
  #output: Writable | undefined;
  #sheet: StreamingSheet | undefined;
  #sheetIndex = -1;
  #widths: readonly number[] | undefined;
  /** The zip's pending write, held while our readable side is full. */
  #pendingOutput: (() => void) | undefined;
  #issues = { truncated: 0, stripped: 0 };

  constructor(ctx: StageContext, columns: Columns, settings: XlsxSettings, objectMode: boolean) {
    super({ writableObjectMode: objectMode, writableHighWaterMark: objectMode ? 1 : 64 * 1024, readableHighWaterMark: 256 * 1024 });
    this.#ctx = ctx;
    this.#columns = columns;
    this.#settings = settings;
  }

  override _flush(callback: (error?: Error | null) => void): void {
    this.finish().then(() => callback(), (error: unknown) => callback(this.failure(error)));
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

  protected async writePieces(pieces: readonly SheetPiece[]): Promise<void> {
    for (const piece of pieces) {
      if (this.destroyed) return;
      if ('xml' in piece) await this.#current().write(piece.xml);
      else if ('widths' in piece) this.#widths ??= piece.widths;
      else if ('issues' in piece) this.#report(piece.issues, piece.sheet);
      else await this.#sheetAt(piece.sheet);
    }
  }

  protected async finish(): Promise<void> {
    await this.#sheetAt(Math.max(this.#sheetIndex, 0)); // an export without rows is a header-only sheet
    if (this.destroyed) return;
    this.#sheet!.commit();
    await this.#workbook!.commit();
    const { truncated } = this.#issues;
    if (truncated > LOGGED_ISSUES) this.#ctx.logger.warn({ cells: truncated, limit: MAX_CELL_TEXT }, `${truncated} text cells were longer than Excel's cell limit and were truncated`);
  }

  protected failure(error: unknown): SluiceError {
    return toSluiceError(error, 'OUTPUT_FAILED', 'Cannot write the XLSX file');
  }

  #current(): StreamingSheet {
    if (!this.#sheet) throw new SluiceError('INTERNAL', 'XLSX rows arrived before their sheet.');
    return this.#sheet;
  }

  /**
   * The workbook opens with the first sheet, sized by the first batch's values. exceljs loads
   * only now: importing it costs every other pipeline about 20 MB.
   */
  async #start(): Promise<StreamingWorkbook | undefined> {
    if (this.#workbook) return this.#workbook;
    const { StreamingWorkbook } = await import('./xlsx-workbook.ts');
    if (this.#workbook || this.destroyed) return this.#workbook;
    this.#output = new Writable({
      highWaterMark: 64 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.push(chunk)) callback();
        else this.#pendingOutput = callback;
      },
    });
    const workbook = new StreamingWorkbook(this.#output, {
      dateFormat: this.#settings.dateFormat,
      onError: (error) => this.destroy(this.failure(error)),
    });
    if (workbook.styles.header !== SHEET_STYLES.header || workbook.styles.date !== SHEET_STYLES.date) {
      throw new SluiceError('INTERNAL', `The workbook registered its styles as ${JSON.stringify(workbook.styles)}, not as the sheet's rows name them (${JSON.stringify(SHEET_STYLES)}).`);
    }
    this.#workbook = workbook;
    return workbook;
  }

  /** A sheet is committed before the next one opens; each starts with the header row. */
  async #sheetAt(index: number): Promise<void> {
    if (index === this.#sheetIndex) return;
    const workbook = await this.#start();
    if (!workbook || this.destroyed) return;
    this.#sheet?.commit();
    this.#sheetIndex = index;
    const filter = `A1:${columnLetters(this.#columns.length - 1)}1`;
    this.#sheet = workbook.addSheet(sheetName(this.#settings.sheetName, index), this.#widths ?? columnWidths(this.#columns, []), filter);
    await this.#sheet.write(headerRowXml(this.#columns, SHEET_STYLES));
  }

  #report(issues: readonly SheetCellIssue[], sheet: number): void {
    for (const { row, column, truncatedFrom, stripped } of issues) {
      const where = { sheet: sheetName(this.#settings.sheetName, sheet), row, column };
      if (truncatedFrom !== undefined) {
        this.#ctx.metrics.warn('truncatedCells');
        if (++this.#issues.truncated <= LOGGED_ISSUES) {
          this.#ctx.logger.warn({ ...where, length: truncatedFrom, limit: MAX_CELL_TEXT }, `text longer than Excel's ${MAX_CELL_TEXT}-character cell limit was truncated`);
        }
      }
      if (stripped) {
        this.#ctx.metrics.warn('strippedCells');
        if (++this.#issues.stripped === 1) this.#ctx.logger.warn(where, 'removed characters that an XLSX file cannot hold (control characters); further cells are only counted');
      }
    }
  }
}
