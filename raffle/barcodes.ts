/** Barcodes are 8 ASCII digits; legacy ones are shorter and only ever gain leading zeros. */
export const BARCODE_LENGTH = 8;

export type BarcodeClass = 'short' | 'done' | 'invalid';

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return text.length > 0;
}

/**
 * `short`: digits only, fewer than 8 (pad it); `done`: exactly 8 digits; `invalid`: anything
 * else (empty, other characters, longer than 8, NULL). Only plain ASCII digits count: a space or
 * a non-ASCII digit makes a barcode invalid, because guessing what it meant could mis-ticket.
 */
export function classifyBarcode(barcode: unknown): BarcodeClass {
  if (typeof barcode !== 'string' || !isDigits(barcode) || barcode.length > BARCODE_LENGTH) return 'invalid';
  return barcode.length === BARCODE_LENGTH ? 'done' : 'short';
}

/** The 8-digit form of a short or done barcode; undefined for an invalid one. */
export function padBarcode(barcode: unknown): string | undefined {
  if (classifyBarcode(barcode) === 'invalid') return undefined;
  return (barcode as string).padStart(BARCODE_LENGTH, '0');
}

/** Why a barcode cannot be migrated, in words for the report. */
export function invalidReason(barcode: unknown): string {
  if (typeof barcode !== 'string') return 'missing';
  if (barcode === '') return 'empty';
  if (!isDigits(barcode)) return 'not digits';
  return 'longer than 8 digits';
}
