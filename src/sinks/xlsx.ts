import type { Transform } from 'node:stream';
import { SluiceError } from '../core/errors.ts';
import type { Batch, Columns, EncoderSinkSpec, SheetEncoding, StageContext } from '../core/types.ts';
import { SheetDataEncoder, SheetDataParser, SheetPieces } from '../format/xlsx-sheet-data.ts';
import { SHEET_STYLES } from '../format/xlsx-sheet-xml.ts';
import { EXCEL_MAX_ROWS, sheetName, validateMaxRows, validateSheetBaseName } from '../format/xlsx-sheets.ts';
import { type XlsxSettings, XlsxStream } from './xlsx-stream.ts';
import { groupDigits } from '../core/group-digits.ts';

export interface XlsxSinkConfig {
  /** The first sheet's name; later sheets are `<name> (2)`, `<name> (3)`, ... Default `Sheet1`, as Excel's. */
  readonly sheetName?: string;
  /** Rows per sheet, header included, before the next sheet starts. Default (and most): Excel's 1,048,576. */
  readonly maxRowsPerSheet?: number;
  /** Excel number format for timestamps (shown in UTC). */
  readonly dateFormat?: string;
}

/** Batches in, the workbook's bytes out: the rows are encoded here, on the main thread. */
class XlsxEncoder extends XlsxStream {
  readonly #rows: SheetDataEncoder;

  constructor(ctx: StageContext, columns: Columns, settings: XlsxSettings) {
    super(ctx, columns, settings, true);
    this.#rows = new SheetDataEncoder(columns, { maxRowsPerSheet: settings.maxRowsPerSheet, styles: SHEET_STYLES });
  }

  override _transform(batch: Batch, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const pieces = new SheetPieces();
    try {
      this.#rows.encode(batch, pieces);
    } catch (error) {
      return callback(this.failure(error));
    }
    this.writePieces(pieces.take()).then(() => callback(), (error: unknown) => callback(this.failure(error)));
  }
}

/** The sheets' rows as a SQLite reader's worker encoded them (SheetEncoding) in, the workbook's bytes out. */
class XlsxAssembler extends XlsxStream {
  readonly #parser = new SheetDataParser();

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writePieces(this.#parser.push(chunk)).then(() => callback(), (error: unknown) => callback(this.failure(error)));
  }

  protected override async finish(): Promise<void> {
    if (this.#parser.incomplete) throw new SluiceError('INTERNAL', 'The encoded sheet rows ended inside a record.');
    await super.finish();
  }
}

function requireColumns(columns: Columns): void {
  if (columns.length === 0) throw new SluiceError('INVALID_DEFINITION', 'needs at least one column.');
}

/**
 * An Excel workbook (exceljs's streaming writer, with backpressure): a bold, frozen, filtered
 * header; integers as numbers, timestamps as UTC date-times, all else as text; a new sheet
 * before Excel's row limit. On SQLite the rows are encoded in reader threads, one per key
 * range with `parallel`; the sheets' XML is the same bytes either way.
 */
export function xlsxSink(config: XlsxSinkConfig = {}): EncoderSinkSpec<{}> {
  const settings: XlsxSettings = {
    sheetName: config.sheetName ?? 'Sheet1',
    maxRowsPerSheet: config.maxRowsPerSheet ?? EXCEL_MAX_ROWS,
    dateFormat: config.dateFormat ?? 'yyyy-mm-dd hh:mm:ss.000',
  };
  validateSheetBaseName(settings.sheetName);
  validateMaxRows(settings.maxRowsPerSheet); // at definition time, not at the first batch
  const encoding: SheetEncoding = { format: 'xlsx-sheet', maxRowsPerSheet: settings.maxRowsPerSheet, styles: SHEET_STYLES, firstRow: 0 };
  return {
    kind: 'sink.xlsx',
    type: 'encoder',
    summary: `Excel workbook (sheets "${sheetName(settings.sheetName, 0)}", "${sheetName(settings.sheetName, 1)}", ... of at most ${groupDigits(settings.maxRowsPerSheet)} rows)`,
    format: { extension: 'xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
    check: requireColumns,
    open(ctx, columns) {
      requireColumns(columns);
      return new XlsxEncoder(ctx, columns, settings);
    },
    sqlEncoding: () => encoding,
    assemble(ctx, columns): Transform {
      requireColumns(columns);
      return new XlsxAssembler(ctx, columns, settings, false);
    },
  };
}
