import { describe, expect, it } from 'vitest';
import { classifyBarcode, invalidReason, padBarcode } from '../../raffle/barcodes.ts';

describe('classifyBarcode / padBarcode', () => {
  it.each([
    ['1', 'short', '00000001'],
    ['0', 'short', '00000000'],
    ['123456', 'short', '00123456'],
    ['1234567', 'short', '01234567'],
    ['0012345', 'short', '00012345'],
    ['12345678', 'done', '12345678'],
    ['00000000', 'done', '00000000'],
  ])('%j is %s and pads to %s', (barcode, kind, padded) => {
    expect(classifyBarcode(barcode)).toBe(kind);
    expect(padBarcode(barcode)).toBe(padded);
  });

  it.each([
    ['', 'empty'],
    ['123456789', 'longer than 8 digits'],
    ['12A', 'not digits'],
    [' 123', 'not digits'],
    ['123 ', 'not digits'],
    ['-123', 'not digits'],
    ['1.5', 'not digits'],
    ['١٢٣', 'not digits'], // Arabic-Indic digits are digits to Unicode, not to a scanner
    ['１２３', 'not digits'], // full-width
    [null, 'missing'],
  ])('%j is invalid (%s) and never padded', (barcode, reason) => {
    expect(classifyBarcode(barcode)).toBe('invalid');
    expect(padBarcode(barcode)).toBeUndefined();
    expect(invalidReason(barcode)).toBe(reason);
  });
});
