/**
 * Spreadsheet formula injection (CWE-1236): a cell that starts with `=`, `@`, tab or CR, or
 * with `+`/`-` followed by anything but a plain number or a phone number, is run as a formula
 * by Excel and LibreOffice. Such cells get a leading `'`, which both show as text.
 */
const SAFE_SIGNED = /^[+-](?:\d+(?:\.\d+)?|\d[\d ().-]*)$/;

export function needsFormulaEscape(text: string): boolean {
  switch (text.charCodeAt(0)) {
    case 61: // =
    case 64: // @
    case 9: // tab
    case 13: // CR
      return true;
    case 43: // +
    case 45: // -
      return text.length > 1 && !SAFE_SIGNED.test(text);
    default:
      return false;
  }
}

export function escapeFormula(text: string): string {
  return needsFormulaEscape(text) ? `'${text}` : text;
}
