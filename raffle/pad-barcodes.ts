import { columnIndex } from 'sluice';
import type { BatchFn, Columns, Row, StageContext, TransformSpec } from 'sluice';
import { classifyBarcode } from './barcodes.ts';
import { barcodeConditions, padBarcodeSql } from './barcode-sql.ts';

export interface PadBarcodesConfig {
  /** The barcode column; `barcode` by default. */
  readonly column?: string;
  /** Rows to leave untouched this run, by an integer key (e.g. tickets whose padded barcode would collide). */
  readonly skip?: { readonly column: string; readonly keys: (ctx: StageContext) => ReadonlySet<number> };
  /** A timestamp column appended to every changed row, with this value (the run's time). */
  readonly stamp?: { readonly column: string; readonly value: (ctx: StageContext) => string };
}

export interface PadOptions {
  readonly skip?: (row: Row) => boolean;
  /** Appended to every changed row. */
  readonly stamp?: string;
  readonly onDrop?: (reason: 'invalid' | 'skipped') => void;
}

/**
 * The pure core: keeps only the rows whose barcode needs padding, padded to 8 digits (and
 * stamped). Rows already 8 digits long need no change and are dropped; invalid and skipped rows
 * are dropped too and counted, never altered.
 */
export function padBarcodeBatch(index: number, options: PadOptions = {}): BatchFn {
  const { skip, stamp, onDrop } = options;
  return (batch) => {
    const out: Row[] = [];
    for (const row of batch) {
      const barcode = row[index];
      const kind = classifyBarcode(barcode);
      if (kind === 'done') continue;
      if (kind === 'invalid') {
        onDrop?.('invalid');
        continue;
      }
      if (skip?.(row)) {
        onDrop?.('skipped');
        continue;
      }
      const changed = row.slice();
      changed[index] = (barcode as string).padStart(8, '0');
      if (stamp !== undefined) changed.push(stamp);
      out.push(changed);
    }
    return out;
  };
}

function skipPredicate(config: PadBarcodesConfig, ctx: StageContext, columns: Columns): ((row: Row) => boolean) | undefined {
  if (!config.skip) return undefined;
  const keys = config.skip.keys(ctx);
  const index = columnIndex(columns, config.skip.column);
  return (row) => keys.has(Number(row[index]));
}

/** Left-pads short numeric barcodes with zeros to 8 digits; see `padBarcodeBatch`. */
export function padBarcodes(config: PadBarcodesConfig = {}): TransformSpec<{}> {
  const column = config.column ?? 'barcode';
  return {
    kind: 'transform.pad-barcodes',
    summary: `Left-pads short numeric ${column} values to 8 digits; keeps only rows that change`,
    columns: (input) => (config.stamp ? [...input, { name: config.stamp.column, type: 'timestamp' }] : input),
    check(columns) {
      columnIndex(columns, column);
      if (config.skip) columnIndex(columns, config.skip.column);
    },
    open(ctx, columns) {
      return padBarcodeBatch(columnIndex(columns, column), {
        skip: skipPredicate(config, ctx, columns),
        stamp: config.stamp?.value(ctx),
        onDrop: (reason) => ctx.metrics.warn(`${reason} barcodes`),
      });
    },
    sqlChange(ctx, _columns, sql) {
      const where = [barcodeConditions(sql.dialect, column).short];
      if (config.skip) {
        const keys = config.skip.keys(ctx);
        where.push(sql.notAmong(config.skip.column, keys));
        // The rows are never seen one by one here: the skipped ones are counted as a whole.
        if (keys.size > 0) ctx.metrics.warn('skipped barcodes', keys.size);
      }
      const set: Record<string, string> = { [column]: padBarcodeSql(sql.dialect, column) };
      if (config.stamp) set[config.stamp.column] = sql.bind(config.stamp.value(ctx));
      return { where: where.join(' AND '), set };
    },
  };
}
