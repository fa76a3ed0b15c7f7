import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { Columns, Row } from '../../src/core/types.ts';
import { csvHeader, encodeCsvBatch, quoteCsv } from '../../src/format/csv.ts';

const columns: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'text', type: 'text' },
  { name: 'at', type: 'timestamp' },
];
const on = { escapeFormulas: true };
const off = { escapeFormulas: false };

describe('CSV encoding', () => {
  it('quotes only where RFC 4180 needs it, and the empty string', () => {
    expect(quoteCsv('plain')).toBe('plain');
    expect(quoteCsv('a,b')).toBe('"a,b"');
    expect(quoteCsv('say "hi"')).toBe('"say ""hi"""');
    expect(quoteCsv('line\nbreak')).toBe('"line\nbreak"');
    expect(quoteCsv('cr\rhere')).toBe('"cr\rhere"');
    expect(quoteCsv(' lead')).toBe(' lead');
    expect(quoteCsv('trail ')).toBe('trail ');
    expect(quoteCsv('')).toBe('""');
  });

  it('writes NULL as an empty field and integers as integers, LF line ends', () => {
    const rows: Row[] = [
      [1, null, null],
      [2, '', '2026-01-01T00:00:07.000Z'],
      [-3, '0042', null],
    ];
    expect(encodeCsvBatch(rows, columns, on)).toBe('1,,\n2,"",2026-01-01T00:00:07.000Z\n-3,0042,\n');
  });

  it('escapes formula-looking text cells only, and only when asked', () => {
    const rows: Row[] = [[1, '=1+1', null], [2, '+15551234567', null], [3, '-cmd', null]];
    expect(encodeCsvBatch(rows, columns, on)).toBe("1,'=1+1,\n2,+15551234567,\n3,'-cmd,\n");
    expect(encodeCsvBatch(rows, columns, off)).toBe('1,=1+1,\n2,+15551234567,\n3,-cmd,\n');
  });

  it('round-trips awkward text through an independent parser', () => {
    const awkward = ['a,b', 'quote " inside', 'multi\r\nline', '  spaced  ', 'tab\there', 'back\\slash', 'Zoë 🎟️ 日本', '', 'x'];
    const rows: Row[] = awkward.map((text, i) => [i, text, null]);
    const csv = csvHeader(columns) + encodeCsvBatch(rows, columns, off);
    const parsed = parse(csv, { columns: true, relax_column_count: false }) as Array<Record<string, string>>;
    expect(parsed.map((r) => r.text)).toEqual(awkward);
    expect(parsed.map((r) => r.id)).toEqual(awkward.map((_, i) => String(i)));
  });

  it('quotes a header name that needs it', () => {
    expect(csvHeader([{ name: 'a,b', type: 'text' }, { name: 'c', type: 'text' }])).toBe('"a,b",c\n');
  });

  it('quotes a lone \\. in single-column output, as PostgreSQL does', () => {
    const one: Columns = [{ name: 'v', type: 'text' }];
    expect(encodeCsvBatch([['\\.'], ['a\\.']], one, off)).toBe('"\\."\na\\.\n');
    expect(encodeCsvBatch([[1, '\\.', null]], columns, off)).toBe('1,\\.,\n');
  });
});
