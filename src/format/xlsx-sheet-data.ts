import type { Batch, Columns } from '../core/types.ts';
import { type CellIssue, type SheetStyles, type TextSink, Utf8Builder, writeRowsXml } from './xlsx-sheet-xml.ts';
import { type SheetPosition, columnWidths, planRows, positionAfter } from './xlsx-sheets.ts';

/**
 * What a workbook's sheets are made of besides rows' XML, in order: the column widths (sized by
 * the first batch), a switch to a sheet (which the writer opens, with its header row, if it is
 * not the current one), and cells that had to be altered, for the warnings.
 */
export type SheetRecord =
  | { readonly widths: readonly number[] }
  | { readonly sheet: number }
  | { readonly issues: readonly SheetCellIssue[]; readonly sheet: number };

/** Records and rows' XML (UTF-8) for the current sheet. */
export type SheetPiece = SheetRecord | { readonly xml: Buffer };

export interface SheetCellIssue {
  readonly row: number;
  readonly column: string;
  readonly truncatedFrom?: number;
  readonly stripped: boolean;
}

/** Where an encoder writes: rows' XML as text, everything else as records. */
export interface SheetOutput extends TextSink {
  record(record: SheetRecord): void;
}

export interface SheetLayout {
  /** Rows per sheet, its header included. */
  readonly maxRowsPerSheet: number;
  readonly styles: SheetStyles;
}

export function issueOf({ row, column, cell }: CellIssue): SheetCellIssue {
  return cell.truncatedFrom === undefined ? { row, column, stripped: cell.stripped } : { row, column, stripped: cell.stripped, truncatedFrom: cell.truncatedFrom };
}

/**
 * Batches as a workbook's sheet data. `firstRow` is the number of data rows before the first
 * batch (a part of a parallel export starts where the parts before it end), so the rows are
 * numbered and split across sheets as one encoder over all of them would. Pure: the same output
 * whether it runs on the main thread or in a SQLite reader's worker.
 */
export class SheetDataEncoder {
  readonly #columns: Columns;
  readonly #layout: SheetLayout;
  #position: SheetPosition;
  #announced = -1;
  #sized: boolean;

  /**
   * `sized`: the column widths are written elsewhere (by the first part of a parallel export,
   * from the export's first batch), not from this encoder's first batch.
   */
  constructor(columns: Columns, layout: SheetLayout, firstRow = 0, sized = false) {
    this.#columns = columns;
    this.#layout = layout;
    this.#position = positionAfter(firstRow, layout.maxRowsPerSheet);
    this.#sized = sized;
  }

  encode(batch: Batch, out: SheetOutput): void {
    if (!this.#sized) out.record({ widths: columnWidths(this.#columns, batch) });
    this.#sized = true;
    const plan = planRows(this.#position, batch.length, this.#layout.maxRowsPerSheet);
    for (const segment of plan.segments) {
      if (segment.sheet !== this.#announced) out.record({ sheet: segment.sheet });
      this.#announced = segment.sheet;
      const issues = writeRowsXml(out, batch, segment.start, segment.end, segment.firstRow, this.#columns, this.#layout.styles);
      if (issues.length > 0) out.record({ issues: issues.map(issueOf), sheet: segment.sheet });
    }
    this.#position = plan.next;
  }
}

/** An encoder's output as pieces, on the thread that writes the workbook. */
export class SheetPieces implements SheetOutput {
  #pieces: SheetPiece[] = [];
  #xml: Utf8Builder | undefined;

  append(text: string): void {
    this.#xml ??= new Utf8Builder(256 * 1024);
    this.#xml.append(text);
  }

  record(record: SheetRecord): void {
    this.#endXml();
    this.#pieces.push(record);
  }

  /** The pieces written since the last take. */
  take(): SheetPiece[] {
    this.#endXml();
    const pieces = this.#pieces;
    this.#pieces = [];
    return pieces;
  }

  #endXml(): void {
    if (this.#xml && this.#xml.length > 0) this.#pieces.push({ xml: this.#xml.bytes() });
    this.#xml = undefined;
  }
}

/**
 * A record in the byte stream a worker thread sends: NUL, its JSON, LF. XML cannot hold a NUL
 * (the cell encoder removes them from text), so in that stream a NUL always starts a record.
 */
export function recordText(record: SheetRecord): string {
  return `\0${JSON.stringify(record)}\n`;
}

/** The worker's byte stream (XML and recordText) back into pieces, whatever its chunks' boundaries. */
export class SheetDataParser {
  /** A record's bytes so far, when a chunk ended inside it. */
  #record: Buffer[] | undefined;

  push(chunk: Buffer): SheetPiece[] {
    const pieces: SheetPiece[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#record) {
        const end = chunk.indexOf(10, at);
        this.#record.push(chunk.subarray(at, end === -1 ? chunk.length : end));
        if (end === -1) break;
        pieces.push(JSON.parse(Buffer.concat(this.#record).toString('utf8')) as SheetRecord);
        this.#record = undefined;
        at = end + 1;
        continue;
      }
      const start = chunk.indexOf(0, at);
      const end = start === -1 ? chunk.length : start;
      if (end > at) pieces.push({ xml: chunk.subarray(at, end) });
      if (start === -1) break;
      this.#record = [];
      at = start + 1;
    }
    return pieces;
  }

  /** Whether the stream ended inside a record (it was cut short). */
  get incomplete(): boolean {
    return this.#record !== undefined;
  }
}
