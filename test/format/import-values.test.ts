import { describe, expect, it } from 'vitest';
import { escapeFormula } from '../../src/format/formula.ts';
import { type ImportColumn, coerceValue, headerKey, mapHeader, unescapeFormula } from '../../src/format/import-values.ts';

const ID: ImportColumn = { name: 'id', type: 'integer', required: true };
const PRICE: ImportColumn = { name: 'price_cents', type: 'integer' };
const SOLD: ImportColumn = { name: 'sold_at', type: 'timestamp' };
const NAME: ImportColumn = { name: 'buyer_name', type: 'text' };
const STATUS: ImportColumn = { name: 'status', type: 'text', required: true, values: ['available', 'sold'] };
const BARCODE: ImportColumn = { name: 'barcode', type: 'text', check: (v) => (typeof v === 'string' && /^\d{8}$/.test(v) ? undefined : `barcode ${v} is not 8 digits`) };

describe('mapHeader', () => {
  it('matches headers to columns whatever their case, spaces, hyphens or underscores, and lists the others', () => {
    const { fields, ignored } = mapHeader(['  Buyer Name ', 'ID', 'notes', 'STATUS'], [ID, NAME, STATUS]);
    expect(fields).toEqual([1, 0, 3]);
    expect(ignored).toEqual(['notes']);
    expect(headerKey('Sold-At')).toBe(headerKey('sold_at'));
  });

  it('follows an explicit mapping before the names', () => {
    expect(mapHeader(['Ticket No', 'Name'], [ID, NAME], { 'ticket no': 'id', Name: 'buyer_name' }).fields).toEqual([0, 1]);
  });

  it('refuses an input without a required column, two inputs for one column, and a mapping to no column', () => {
    expect(() => mapHeader(['buyer_name'], [ID, NAME])).toThrow('The input has no column for "id" (its header: "buyer_name").');
    expect(() => mapHeader(['id', 'ID '], [ID])).toThrow('Two input columns fill "id": "id" and "ID ".');
    expect(() => mapHeader(['x'], [ID], { x: 'nope' })).toThrow('The mapping sends "x" to "nope", which is not a column of the import (id).');
  });
});

describe('coerceValue', () => {
  it.each([
    ['42', 42],
    [' -7 ', -7],
    [42, 42],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
  ])('reads the integer %j as %s', (raw, value) => {
    expect(coerceValue(raw, PRICE)).toEqual({ ok: true, value });
  });

  it.each(['4.5', '1e3', 'twelve', '', '9223372036854775808', 4.5, true])('rejects %j as an integer', (raw) => {
    expect(coerceValue(raw, PRICE)).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad integer for price_cents: .* is not an integer$/) });
  });

  it.each([
    ['2026-01-01T00:00:07.000Z', '2026-01-01T00:00:07.000Z'],
    ['2026-01-01T00:00:07Z', '2026-01-01T00:00:07.000Z'],
    ['2026-01-01 00:00:07.5', '2026-01-01T00:00:07.500Z'],
    ['2026-01-01T02:00:07+02:00', '2026-01-01T00:00:07.000Z'],
    ['2026-01-01T00:00:07.123-0530', '2026-01-01T05:30:07.123Z'],
    ['2026-01-01T00:00', '2026-01-01T00:00:00.000Z'],
    ['2024-02-29T23:59:59.999Z', '2024-02-29T23:59:59.999Z'],
    ['2000-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z'],
    ['0999-12-31T00:00:00.000Z', '0999-12-31T00:00:00.000Z'],
    // Years an export writes for 1-99 AD (and for BC years, whose era to_char drops).
    ['0099-12-31T23:59:59.999Z', '0099-12-31T23:59:59.999Z'],
    ['0044-03-15T12:00:00.500Z', '0044-03-15T12:00:00.500Z'],
    ['0001-01-01 00:00:00', '0001-01-01T00:00:00.000Z'],
  ])('reads the timestamp %j as %j', (raw, value) => {
    expect(coerceValue(raw, SOLD)).toEqual({ ok: true, value });
  });

  it.each(['2026-02-30T00:00:00Z', '2026-02-30T00:00:00.000Z', '2100-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-00-10T00:00:00.000Z', '2026-01-00T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01', '2026-01-01T24:00:00Z', 'yesterday', '2026-01-01T00:00:00.1234Z', '0000-01-01T00:00:00.000Z', '0044-02-30T00:00:00.000Z'])('rejects %j as a timestamp', (raw) => {
    expect(coerceValue(raw, SOLD)).toMatchObject({ ok: false, reason: expect.stringContaining('is not an ISO-8601 timestamp') });
  });

  it('keeps NULL apart from empty text, and refuses either for a required column', () => {
    expect(coerceValue(null, NAME)).toEqual({ ok: true, value: null });
    expect(coerceValue('', NAME)).toEqual({ ok: true, value: '' });
    expect(coerceValue(null, ID)).toEqual({ ok: false, reason: 'missing required id' });
    expect(coerceValue('', STATUS)).toEqual({ ok: false, reason: 'missing required status' });
  });

  it('holds values to their enum and to the column’s own rule', () => {
    expect(coerceValue('sold', STATUS)).toEqual({ ok: true, value: 'sold' });
    expect(coerceValue('lost', STATUS)).toEqual({ ok: false, reason: 'status lost is not one of available, sold' });
    expect(coerceValue('1234', BARCODE)).toEqual({ ok: false, reason: 'barcode 1234 is not 8 digits' });
  });

  it('undoes exactly the formula escape the exports add, and nothing else', () => {
    for (const text of ['=HYPERLINK("x")', '@SUM(A1)', '+cmd|calc', '-2+3', '\t+1555', '\rcarriage', "'hello", 'plain', '+15551234567', '-12.5', "'"]) {
      expect(unescapeFormula(escapeFormula(text))).toBe(text);
    }
    // The one text the escape cannot tell apart (README, Imports): an apostrophe before a formula character.
    expect(unescapeFormula(escapeFormula("'=already quoted"))).toBe('=already quoted');
    expect(coerceValue("'=SUM(A1)", NAME)).toEqual({ ok: true, value: '=SUM(A1)' });
    expect(coerceValue("'=SUM(A1)", NAME, { unescape: false })).toEqual({ ok: true, value: "'=SUM(A1)" });
  });
});
