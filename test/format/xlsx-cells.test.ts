import { describe, expect, it } from 'vitest';
import { MAX_CELL_TEXT, canonicalIsoMs, excelSerialToIso, isoToExcelSerial, textCell, toCellValue } from '../../src/format/xlsx-cells.ts';

describe('textCell', () => {
  it('keeps ordinary text, tabs, line breaks, emoji and DEL as they are', () => {
    for (const text of ['', 'plain', '00012345', '+15551234567', '=SUM(A1)', 'tab\there', 'a\r\nb\rc\nd', 'Zoë 🎟️ 日本', 'del\u007F']) {
      expect(textCell(text)).toEqual({ kind: 'text', text, stripped: false });
    }
  });

  it('strips characters XML cannot hold: C0 controls, U+FFFE/U+FFFF and unpaired surrogates', () => {
    const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
    expect(textCell(`a${controls}b`)).toEqual({ kind: 'text', text: 'a\t\n\rb', stripped: true });
    expect(textCell('x\uFFFE\uFFFFy')).toEqual({ kind: 'text', text: 'xy', stripped: true });
    expect(textCell('lone \uD83C high, lone \uDF9F low, pair \uD83C\uDF9F')).toEqual({ kind: 'text', text: 'lone  high, lone  low, pair 🎟', stripped: true });
  });

  it("cuts text to Excel's 32,767 characters and reports the original length", () => {
    expect(textCell('a'.repeat(MAX_CELL_TEXT))).toEqual({ kind: 'text', text: 'a'.repeat(MAX_CELL_TEXT), stripped: false });
    expect(textCell('b'.repeat(40_000))).toEqual({ kind: 'text', text: 'b'.repeat(32_767), stripped: false, truncatedFrom: 40_000 });
  });

  it('never splits a surrogate pair at the limit', () => {
    const cell = textCell(`${'a'.repeat(32_766)}🎟more`);
    expect(cell.text).toBe('a'.repeat(32_766));
    expect(cell.truncatedFrom).toBe(32_772);
  });

  it('measures the limit after stripping', () => {
    expect(textCell(`\u0001${'c'.repeat(MAX_CELL_TEXT)}`)).toEqual({ kind: 'text', text: 'c'.repeat(MAX_CELL_TEXT), stripped: true });
  });
});

describe('isoToExcelSerial', () => {
  it('counts days from 1899-12-30 (Excel 1900 system), in UTC, to the millisecond', () => {
    expect(isoToExcelSerial('2026-01-01T00:00:00.000Z')).toBe(46023);
    expect(isoToExcelSerial('1900-03-01T00:00:00.000Z')).toBe(61);
    expect(isoToExcelSerial('2026-01-01T12:00:00.000Z')).toBe(46023.5);
    for (const iso of ['2026-01-02T10:20:30.123Z', '2026-02-28T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00.001Z']) {
      expect(excelSerialToIso(isoToExcelSerial(iso)!)).toBe(iso);
    }
  });

  it('refuses what Excel cannot show as a date', () => {
    expect(isoToExcelSerial('1900-02-28T23:59:59.999Z')).toBeUndefined(); // before Excel's phantom 29 February 1900
    expect(isoToExcelSerial('infinity')).toBeUndefined();
    expect(isoToExcelSerial('not a date')).toBeUndefined();
  });
});

describe('canonicalIsoMs', () => {
  it('reads canonical timestamps as Date.parse does, and leaves everything else to it', () => {
    let seed = 11;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (let i = 0; i < 20_000; i++) {
      const iso = new Date(Math.floor((random() - 0.3) * 1e14)).toISOString();
      if (iso.length !== 24) continue;
      const fast = canonicalIsoMs(iso);
      if (fast !== undefined) expect(fast, iso).toBe(Date.parse(iso));
    }
    expect(canonicalIsoMs('2026-01-01T00:00:07.000Z')).toBe(Date.parse('2026-01-01T00:00:07.000Z'));
    for (const other of ['2026-02-29T00:00:00.000Z', '2026-02-30T00:00:00.000Z', '0050-01-01T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01 00:00:00.000Z', '2026-01-01T00:00:07Z', '+02026-01-01T00:00:00.000', '2026-0a-01T00:00:00.000Z', '20x6-01-01T00:00:00.000Z', 'x026-01-01T00:00:00.000Z', '2026-01-01T00:00:0x.000Z', '2026-01-01T00:00:00.x00Z', '2026-01-01T00:00:00.00xZ', '2026-01-01T00:00:00.000z']) {
      expect(canonicalIsoMs(other), other).toBeUndefined();
    }
  });
});

describe('toCellValue', () => {
  it('maps column types to cell kinds', () => {
    expect(toCellValue('integer', 42)).toEqual({ kind: 'number', value: 42 });
    expect(toCellValue('integer', 7n)).toEqual({ kind: 'number', value: 7 });
    expect(toCellValue('timestamp', '2026-01-01T00:00:00.000Z')).toEqual({ kind: 'date', serial: 46023 });
    expect(toCellValue('text', '=1+1')).toEqual({ kind: 'text', text: '=1+1', stripped: false });
    expect(toCellValue('text', 12)).toEqual({ kind: 'text', text: '12', stripped: false });
  });

  it('keeps NULL an empty cell', () => {
    expect(toCellValue('integer', null)).toBeNull();
    expect(toCellValue('timestamp', null)).toBeNull();
    expect(toCellValue('text', null)).toBeNull();
  });

  it('writes integers a double cannot hold, and dates Excel cannot show, as exact text', () => {
    expect(toCellValue('integer', 9_007_199_254_740_993n)).toEqual({ kind: 'text', text: '9007199254740993', stripped: false });
    expect(toCellValue('integer', '12a')).toEqual({ kind: 'text', text: '12a', stripped: false });
    expect(toCellValue('timestamp', 'infinity')).toEqual({ kind: 'text', text: 'infinity', stripped: false });
  });
});
