import { describe, expect, it } from 'vitest';
import { needsFormulaEscape } from '../../src/format/formula.ts';
import { JsonRowsTranscoder, formulaBytes } from '../../src/format/json-rows.ts';

describe('formulaBytes', () => {
  // Every string of up to three characters from those the rule looks at, and some longer ones.
  const alphabet = ['=', '@', '+', '-', '0', '9', ' ', '(', ')', '.', 'a', ',', 'é'];
  const strings = [''];
  for (let length = 0; length < 3; length++) for (const s of strings.filter((x) => x.length === length)) for (const c of alphabet) strings.push(s + c);
  strings.push('+1 (555) 010-9999', '+15551234567', '-12.5', '-1e5', '+.5', '+1a', '-2+3', '+cmd|calc', '=HYPERLINK("x")');

  it('agrees with needsFormulaEscape on strings without tab or CR', () => {
    for (const text of strings.filter((s) => s !== '')) {
      const bytes = Buffer.from(text);
      expect([text, formulaBytes(bytes, 0, bytes.length)]).toEqual([text, needsFormulaEscape(text)]);
    }
  });
});

describe('JsonRowsTranscoder', () => {
  const columns = [
    { name: 'id', type: 'integer' },
    { name: 'name', type: 'text' },
  ] as const;

  it('writes CSV from JSON rows: quotes, escapes, NULL apart from empty text, reals as JavaScript writes them', () => {
    const csv = new JsonRowsTranscoder(columns, { format: 'csv', header: false, escapeFormulas: true, preamble: '' });
    const page = Buffer.from(['[1,"a,b"]', '[2,null]', '[3,""]', '[4,"say \\"hi\\"\\n"]', '[1.0e+21,"=x"]', '[-5,"+1 (555) 010"]'].join('\n'));
    expect(Buffer.from(csv.transcode(page)).toString()).toBe('1,"a,b"\n2,\n3,""\n4,"say ""hi""\n"\n1e+21,\'=x\n-5,+1 (555) 010\n');
  });

  it('writes TSV from JSON rows with the text-format escapes', () => {
    const tsv = new JsonRowsTranscoder(columns, { format: 'text', header: false, escapeFormulas: false, preamble: '' });
    const page = Buffer.from(['[1,"tab\\there"]', '[2,null]', '[3,"back\\\\slash"]'].join('\n'));
    expect(Buffer.from(tsv.transcode(page)).toString()).toBe('1\ttab\\there\n2\t\n3\tback\\\\slash\n');
  });
});
