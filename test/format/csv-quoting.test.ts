import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { emptyFieldsAsNull, quotedFields } from '../../src/format/csv-quoting.ts';

/** Each record as csv-parse reads it with its raw text, then as the CSV source sees it. */
function read(text: string): Array<Array<string | null>> {
  const records = parse(text, { raw: true, relax_column_count: true, skip_empty_lines: true }) as unknown as Array<{ record: string[]; raw: string }>;
  return records.map(({ record, raw }) => emptyFieldsAsNull(record, raw));
}

describe('quotedFields', () => {
  it('tells quoted from unquoted fields, whatever the quoted ones hold', () => {
    expect(quotedFields('a,"b",,"",c\n')).toEqual([false, true, false, true, false]);
    expect(quotedFields('"x,y","say ""hi""",""""\r\n')).toEqual([true, true, true]);
    expect(quotedFields('"line\nbreak",,"a\r\nb"\n')).toEqual([true, false, true]);
    expect(quotedFields('\n\r\n"",x')).toEqual([true, false]);
    expect(quotedFields('')).toEqual([false]);
  });
});

describe('emptyFieldsAsNull', () => {
  it('reads an unquoted empty field as NULL and a quoted one as empty text, as the exports write them', () => {
    expect(read('id,name,note\n1,,""\n2,"",\n3,x,"a,b"\n')).toEqual([
      ['id', 'name', 'note'],
      ['1', null, ''],
      ['2', '', null],
      ['3', 'x', 'a,b'],
    ]);
  });

  it('keeps its count right across quoted line breaks, doubled quotes and skipped empty lines', () => {
    expect(read('a,b,c\r\n\r\n"x\r\n""y""",,""\r\n,"",\r\n')).toEqual([
      ['a', 'b', 'c'],
      ['x\r\n"y"', null, ''],
      [null, '', null],
    ]);
  });
});
