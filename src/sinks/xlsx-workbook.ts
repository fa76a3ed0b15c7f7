/**
 * The one file that touches exceljs internals (exceljs 4.4; test/sinks/xlsx-workbook.test.ts
 * fails if an upgrade breaks any of them).
 *
 * exceljs's streaming WorkbookWriter builds the package (zip, styles, workbook, content types,
 * sheet views, column widths, autofilter) but has no backpressure: each sheet is an internal
 * buffer that forwards to the zip without ever waiting, so a slow consumer lets a whole export
 * pile up in memory. Here each sheet's zip entry is a stream of ours whose `write` reports when
 * the zip has caught up, and the rows' XML is written by sluice's own encoder
 * (src/format/xlsx-sheet-xml.ts): typed inline cells, without exceljs's per-cell objects (a
 * 1,000,000-row export takes about a quarter of the CPU time it takes through exceljs rows).
 */
import { createRequire } from 'node:module';
import { PassThrough, type Writable } from 'node:stream';
import { crc32 } from 'node:zlib';
import ExcelJS from 'exceljs';
import type { SheetStyles } from '../format/xlsx-sheet-xml.ts';

/** crc-32's export that the zip's checksum streams call per chunk (signed result, as crc-32 returns it). */
interface Crc32Module {
  buf(data: Uint8Array, seed?: unknown): number;
}

/** The `crc-32` module exceljs's zip checksums with (exceljs → archiver → zip-stream → compress-commons → crc32-stream). */
function zipCrcModule(): Crc32Module {
  let from = createRequire(import.meta.url).resolve('exceljs');
  for (const id of ['archiver', 'zip-stream', 'compress-commons', 'crc32-stream']) from = createRequire(from).resolve(id);
  return createRequire(from)('crc-32') as Crc32Module;
}

/**
 * The zip checksums every byte of a sheet with crc-32, a CRC in JavaScript: 0.28 s of the main
 * thread in a 1,000,000-row export (bench/RESULTS.md). Node's zlib.crc32 computes the same
 * numbers natively. crc32-stream passes a Buffer as the first seed, which crc-32 reads as 0.
 */
const zipCrc: Crc32Module = zipCrcModule();
zipCrc.buf = (data, seed) => crc32(data, typeof seed === 'number' ? seed >>> 0 : 0) | 0;

/** zlib's output chunk for the zip's deflate streams (see StreamingWorkbook). */
const ZIP_CHUNK_BYTES = 256 * 1024;

/** The private members of WorkbookWriter used here. */
interface WorkbookInternals {
  /** Opens a zip entry for a part; every sheet's XML goes through the stream it returns. */
  _openStream(path: string): Writable;
  readonly zip: {
    append(source: Writable, data: { readonly name: string }): unknown;
    abort(): unknown;
    on(event: 'error', listener: (error: Error) => void): unknown;
  };
  readonly styles: { addStyleModel(model: object, cellType?: number): number };
}

/** The private members of WorksheetWriter used here. */
interface WorksheetInternals {
  _writeColumns(): void;
  _writeOpenSheetData(): void;
  startedData: boolean;
  commit(): void;
}

/** exceljs's StringBuf: a reused buffer it writes sheet fragments with. */
interface StringBufLike {
  toBuffer(): Buffer;
}

/**
 * A sheet's zip entry. A write's callback runs once its chunk has passed to the readable side
 * and the zip has read that down to the high-water mark, so waiting for the callback is
 * backpressure.
 */
class EntryStream extends PassThrough {
  constructor() {
    super({ highWaterMark: 64 * 1024 });
    // WorkbookWriter.commit() waits for 'zipped' on sheets it commits itself.
    this.on('finish', () => this.emit('zipped'));
  }

  /** exceljs also writes its StringBuf, which it reuses as soon as `write` returns: copy it now. */
  override write(chunk: unknown, ...rest: unknown[]): boolean {
    const bytes = typeof chunk === 'string' || Buffer.isBuffer(chunk) ? chunk : Buffer.from((chunk as StringBufLike).toBuffer());
    return (super.write as (chunk: unknown, ...rest: unknown[]) => boolean)(bytes, ...rest);
  }
}

export class StreamingSheet {
  readonly #worksheet: WorksheetInternals;
  readonly #entry: Writable;
  #previous: Promise<void> = Promise.resolve();

  constructor(worksheet: WorksheetInternals, entry: Writable) {
    this.#worksheet = worksheet;
    this.#entry = entry;
    // Column widths and the opening <sheetData>, which exceljs writes before its first row.
    worksheet._writeColumns();
    worksheet._writeOpenSheetData();
    worksheet.startedData = true;
  }

  /**
   * Appends rows' XML. Resolves once the zip has taken in the previous write: one write waits
   * while another is being compressed, so encoding and compression overlap and memory holds two.
   */
  write(xml: string | Buffer): Promise<void> {
    const previous = this.#previous;
    // The callback also runs (with an error) when the entry is destroyed, so no caller waits forever.
    this.#previous = new Promise((resolve) => this.#entry.write(xml, () => resolve()));
    return previous;
  }

  /** Closes the sheet (autofilter, page setup, end of the part); no row can follow. */
  commit(): void {
    this.#worksheet.commit();
  }

  abort(): void {
    this.#entry.destroy();
  }
}

export interface StreamingWorkbookOptions {
  /** Excel number format of timestamp cells. */
  readonly dateFormat: string;
  /** Called once if the zip fails. */
  readonly onError: (error: Error) => void;
}

/** An XLSX package streamed to `output`, one sheet at a time. */
export class StreamingWorkbook {
  readonly styles: SheetStyles;
  readonly #writer: ExcelJS.stream.xlsx.WorkbookWriter;
  readonly #internals: WorkbookInternals;
  #entry: Writable | undefined;
  #sheet: StreamingSheet | undefined;

  constructor(output: Writable, options: StreamingWorkbookOptions) {
    // Shared strings would keep every distinct string in memory until the end. zlib's default
    // 16 KB output chunks made the sheet's deflate come back to the main thread for every 16 KB:
    // 256 KB took a 1,000,000-row export from 5.3 s to 4.3 s (bench/RESULTS.md), same bytes.
    this.#writer = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useSharedStrings: false, useStyles: true, zip: { zlib: { chunkSize: ZIP_CHUNK_BYTES } } });
    const internals = this.#writer as unknown as WorkbookInternals;
    this.#internals = internals;
    internals._openStream = (path) => {
      const entry = new EntryStream();
      internals.zip.append(entry, { name: path });
      this.#entry = entry;
      return entry;
    };
    internals.zip.on('error', options.onError);
    this.styles = {
      header: internals.styles.addStyleModel({ font: { bold: true, size: 11, name: 'Calibri', family: 2, scheme: 'minor', color: { theme: 1 } } }, ExcelJS.ValueType.String),
      date: internals.styles.addStyleModel({ numFmt: options.dateFormat }, ExcelJS.ValueType.Date),
    };
  }

  /**
   * Opens the next sheet, header frozen and filtered, with the given column widths. The
   * previous sheet must be committed first: a zip writes one entry at a time.
   */
  addSheet(name: string, widths: readonly number[], filterRef: string): StreamingSheet {
    const worksheet = this.#writer.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] });
    worksheet.autoFilter = filterRef;
    worksheet.columns = widths.map((width) => ({ width }));
    this.#sheet = new StreamingSheet(worksheet as unknown as WorksheetInternals, this.#entry!);
    return this.#sheet;
  }

  /** Writes the remaining parts and ends the zip; resolves once `output` has finished. */
  async commit(): Promise<void> {
    await this.#writer.commit();
  }

  /** Stops writing: the zip is abandoned, not finished. */
  abort(): void {
    this.#sheet?.abort();
    this.#internals.zip.abort();
  }
}
