import { describe, expect, it } from 'vitest';
import { encodeLinesBatch, encodeTsvBatch, tsvField, tsvHeader } from '../../src/format/tsv.ts';

describe('TSV encoding', () => {
  it('escapes tab, CR, LF and backslash PostgreSQL-style so a record is one line', () => {
    expect(tsvField('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(tsvField(null)).toBe('');
    expect(tsvField('')).toBe('');
    expect(tsvField(7)).toBe('7');
    expect(tsvField('"quotes", commas')).toBe('"quotes", commas');
    expect(tsvField('bs\bff\fvt\v\u0001')).toBe('bs\\bff\\fvt\\v\u0001');
  });

  const columns = [
    { name: 'id', type: 'integer' },
    { name: 'a', type: 'text' },
    { name: 'b', type: 'text' },
  ] as const;
  const escaping = { escapeFormulas: true };
  const plain = { escapeFormulas: false };

  it('writes one line per row', () => {
    const out = encodeTsvBatch([[1, 'x\ny', null], [2, '0042', 'z']], columns, plain);
    expect(out).toBe('1\tx\\ny\t\n2\t0042\tz\n');
    expect(out.split('\n')).toHaveLength(3);
    expect(tsvHeader([{ name: 'id', type: 'integer' }, { name: 'name', type: 'text' }])).toBe('id\tname\n');
  });

  it('writes one value per line for text output', () => {
    expect(encodeLinesBatch([['00012345'], ['1\n2']], [columns[1]], plain)).toBe('00012345\n1\\n2\n');
  });

  it('escapes formula-looking text as CSV does, before the TSV escapes, and only when asked', () => {
    const rows = [[-5, '=HYPERLINK("http://evil","x")', '+cmd|calc'], [7, '\t+15550000000', '@SUM(A1)'], [8, '-12.5', '+1 (555) 010-9999']];
    expect(encodeTsvBatch(rows, columns, escaping)).toBe(
      "-5\t'=HYPERLINK(\"http://evil\",\"x\")\t'+cmd|calc\n" + "7\t'\\t+15550000000\t'@SUM(A1)\n" + '8\t-12.5\t+1 (555) 010-9999\n',
    );
    expect(encodeTsvBatch(rows, columns, plain)).toBe('-5\t=HYPERLINK("http://evil","x")\t+cmd|calc\n7\t\\t+15550000000\t@SUM(A1)\n8\t-12.5\t+1 (555) 010-9999\n');
    expect(encodeLinesBatch([['=1+2'], ['-3'], [null]], [columns[1]], escaping)).toBe("'=1+2\n-3\n\n");
    expect(encodeLinesBatch([[-1]], [columns[0]], escaping)).toBe('-1\n');
  });
});
