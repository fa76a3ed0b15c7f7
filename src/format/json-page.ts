import { SluiceError } from '../core/errors.ts';
import { BACKSLASH, QUOTE } from './byte-output.ts';

/** What the JSON row transcoders (json-rows.ts, json-sheet.ts) read in a page of SQLite's `json_array()` rows, besides byte-output.ts's bytes. */
export const CLOSE = 0x5d;
export const LETTER_N = 0x6e;

/** Bytes of a number that make it a real (JSON writes integers without them). */
export function isRealByte(b: number): boolean {
  return b === 0x2e || b === 0x65 || b === 0x45;
}

/** The index of the quote that closes a string with escapes, from inside it. */
export function closingQuote(page: Uint8Array, i: number): number {
  for (let b = page[i]!; b !== QUOTE; b = page[++i]!) {
    if (i >= page.length) throw malformedPage();
    if (b === BACKSLASH) i++;
  }
  return i;
}

/** Input that is not rows of JSON arrays: a bug, never a reason to loop past the end. */
export function malformedPage(): SluiceError {
  return new SluiceError('INTERNAL', 'A page of JSON rows ended in the middle of a value.');
}

export function latin1(page: Uint8Array, start: number, end: number): string {
  return Buffer.from(page.buffer, page.byteOffset + start, end - start).toString('latin1');
}

export function utf8(page: Uint8Array, start: number, end: number): string {
  return Buffer.from(page.buffer, page.byteOffset + start, end - start).toString('utf8');
}
