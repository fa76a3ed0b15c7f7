import { quoteIdent } from 'sluice';
import type { Dialect } from 'sluice';
import { BARCODE_LENGTH } from './barcodes.ts';

export interface BarcodeConditions {
  readonly short: string;
  readonly done: string;
  /** Digits only, 1 to 8 of them: short or done. */
  readonly numeric: string;
}

/** Barcode classes as SQL conditions; they must agree with `classifyBarcode`. */
export function barcodeConditions(dialect: Dialect, column = 'barcode'): BarcodeConditions {
  const b = quoteIdent(column);
  if (dialect === 'postgres') {
    return {
      short: `${b} ~ '^[0-9]{1,${BARCODE_LENGTH - 1}}$'`,
      done: `${b} ~ '^[0-9]{${BARCODE_LENGTH}}$'`,
      numeric: `${b} ~ '^[0-9]{1,${BARCODE_LENGTH}}$'`,
    };
  }
  // GLOB '*[^0-9]*' finds any character but an ASCII digit; the length test rules out ''.
  const digits = `${b} NOT GLOB '*[^0-9]*'`;
  return {
    short: `(length(${b}) BETWEEN 1 AND ${BARCODE_LENGTH - 1} AND ${digits})`,
    done: `(length(${b}) = ${BARCODE_LENGTH} AND ${digits})`,
    numeric: `(length(${b}) BETWEEN 1 AND ${BARCODE_LENGTH} AND ${digits})`,
  };
}

/** The 8-digit form of a short numeric barcode, in SQL; it must agree with `padBarcode`. */
export function padBarcodeSql(dialect: Dialect, column = 'barcode'): string {
  const b = quoteIdent(column);
  return dialect === 'postgres' ? `lpad(${b}, ${BARCODE_LENGTH}, '0')` : `substr('${'0'.repeat(BARCODE_LENGTH)}' || ${b}, -${BARCODE_LENGTH})`;
}
