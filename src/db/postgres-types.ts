import { loadPg } from './pg-modules.ts';

const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const DATE = 1082;

/**
 * PostgreSQL's text timestamp (`2026-01-01 00:00:07.5+00`, the session runs in UTC) to the
 * canonical `2026-01-01T00:00:07.500Z`. Plain string work: building a `Date` per value costs
 * more than the query itself.
 */
export function pgTimestampToIso(text: string): string {
  if (text.length < 19 || text.charCodeAt(10) !== 32) return text; // infinity, BC dates: keep as stored
  let end = 19;
  let fraction = '';
  if (text.charCodeAt(19) === 46) {
    end = 20;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    fraction = text.slice(20, Math.min(end, 23));
  }
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction.padEnd(3, '0')}Z`;
}

function parseInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

const parsers = new Map<number, (text: string) => unknown>([
  [INT2, parseInteger],
  [INT4, parseInteger],
  [INT8, parseInteger],
  [TIMESTAMP, pgTimestampToIso],
  [TIMESTAMPTZ, pgTimestampToIso],
  [DATE, (text) => text],
]);

/** Type parsers that yield the same JavaScript values as better-sqlite3 does for the same data. */
export const sluiceTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (text: string) => unknown {
    return parsers.get(oid) ?? loadPg().types.getTypeParser(oid, format ?? 'text');
  },
};
