import { describe, expect, it } from 'vitest';
import { escapeFormula, needsFormulaEscape } from '../../src/format/formula.ts';

describe('formula escaping', () => {
  it.each(['=1+1', '=HYPERLINK("http://x")', '@SUM(A1)', '\tleading tab', '\rleading cr', '+cmd|calc', '-2+3', '+A1', '--x'])(
    'prefixes %j',
    (text) => {
      expect(needsFormulaEscape(text)).toBe(true);
      expect(escapeFormula(text)).toBe(`'${text}`);
    },
  );

  it.each(['+15551234567', '-12.5', '+1 (555) 010-9999', '42', '-7', 'plain', '', 'a=b', 'user@example.com', '-', '+'])('leaves %j alone', (text) => {
    expect(needsFormulaEscape(text)).toBe(false);
    expect(escapeFormula(text)).toBe(text);
  });
});
