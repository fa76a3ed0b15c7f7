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

  it('writes one line per row', () => {
    const out = encodeTsvBatch([[1, 'x\ny', null], [2, '0042', 'z']], 3);
    expect(out).toBe('1\tx\\ny\t\n2\t0042\tz\n');
    expect(out.split('\n')).toHaveLength(3);
    expect(tsvHeader([{ name: 'id', type: 'integer' }, { name: 'name', type: 'text' }])).toBe('id\tname\n');
  });

  it('writes one value per line for text output', () => {
    expect(encodeLinesBatch([['00012345'], ['1\n2']])).toBe('00012345\n1\\n2\n');
  });
});
