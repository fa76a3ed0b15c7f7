import { describe, expect, it } from 'vitest';
import type { Columns } from '../../src/core/types.ts';
import { columnLetters, headerRowXml, rowsXml, textElement } from '../../src/format/xlsx-sheet-xml.ts';

const STYLES = { header: 1, date: 2 };
const COLUMNS: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'note', type: 'text' },
  { name: 'at', type: 'timestamp' },
];

describe('columnLetters', () => {
  it('counts A..Z, AA.., XFD', () => {
    expect([0, 25, 26, 51, 52, 701, 702, 16_383].map(columnLetters)).toEqual(['A', 'Z', 'AA', 'AZ', 'BA', 'ZZ', 'AAA', 'XFD']);
  });
});

describe('textElement', () => {
  it('escapes markup, CR (which XML parsers would turn into LF) and literal _xHHHH_ (which Excel would decode)', () => {
    expect(textElement('a<b>&c')).toBe('<t>a&lt;b&gt;&amp;c</t>');
    expect(textElement('"quoted" \'single\'')).toBe('<t>"quoted" \'single\'</t>');
    expect(textElement('x\r\ny')).toBe('<t xml:space="preserve">x&#13;\ny</t>');
    expect(textElement('_x000D_ and _X0041_ and _x12_')).toBe('<t>_x005F_x000D_ and _X0041_ and _x12_</t>');
    expect(textElement('_x00e9_')).toBe('<t>_x005F_x00e9_</t>');
  });

  it('asks for whitespace to be preserved only where Excel would lose it', () => {
    expect(textElement('  padded  ')).toBe('<t xml:space="preserve">  padded  </t>');
    expect(textElement('tab\there')).toBe('<t xml:space="preserve">tab\there</t>');
    expect(textElement('inner space')).toBe('<t>inner space</t>');
  });
});

describe('rowsXml', () => {
  it('writes the header as bold inline strings', () => {
    expect(headerRowXml(COLUMNS, STYLES)).toBe(
      '<row r="1"><c r="A1" s="1" t="inlineStr"><is><t>id</t></is></c><c r="B1" s="1" t="inlineStr"><is><t>note</t></is></c><c r="C1" s="1" t="inlineStr"><is><t>at</t></is></c></row>',
    );
  });

  it('types cells: numbers, styled date serials, inline text; NULL is no cell', () => {
    const batch = [
      [0, 'skip', null],
      [7, '=HYPERLINK("x")', '2026-01-01T12:00:00.000Z'],
      [null, null, null],
    ];
    const { xml, issues } = rowsXml(batch, 1, 3, 10, COLUMNS, STYLES);
    expect(xml.toString('utf8')).toBe(
      '<row r="10"><c r="A10"><v>7</v></c><c r="B10" t="inlineStr"><is><t>=HYPERLINK("x")</t></is></c><c r="C10" s="2"><v>46023.5</v></c></row><row r="11"></row>',
    );
    expect(issues).toEqual([]);
  });

  it('reports cells it had to alter, with their sheet row and column', () => {
    const { xml, issues } = rowsXml([[1, `bell\u0007${'z'.repeat(40_000)}`, null]], 0, 1, 2, COLUMNS, STYLES);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ row: 2, column: 'note', cell: { stripped: true, truncatedFrom: 40_004 } });
    expect(xml.toString('utf8')).toContain(`<t>bell${'z'.repeat(32_763)}</t>`);
  });

  it('grows its buffer for multi-byte text', () => {
    const wide = '日本🎟'.repeat(5000);
    const { xml } = rowsXml([[1, wide, null]], 0, 1, 2, COLUMNS, STYLES);
    expect(xml.toString('utf8')).toBe(`<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>${wide}</t></is></c></row>`);
  });
});
