/**
 * PostgreSQL's binary `timestamp` (microseconds since 2000-01-01 00:00:00) written as
 * `to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` writes it: milliseconds truncated, a year
 * before 1 AD as its BC number (44 BC is `0044`), a year after 9999 in all its digits, and
 * nothing for ±infinity (to_char gives NULL). No allocations: it runs for every timestamp of
 * an export.
 */

const MS_PER_DAY = 86_400_000;
/** Days from 0000-03-01 (the civil algorithm's epoch) to 2000-01-01. */
const DAYS_0000_03_TO_2000 = 730_425;
const NO_BEGIN_HI = -0x80000000;
const NO_END_HI = 0x7fffffff;

/** Writes the timestamp whose 8 bytes read as `hi` (signed) and `lo` (unsigned) at `at`; returns the end. */
export function writeTimestamp(out: Buffer, at: number, hi: number, lo: number): number {
  if (isInfinite(hi, lo)) return at;
  let days: number;
  let rest: number;
  const ms = safeMillis(hi, lo);
  if (ms !== undefined) {
    // Day numbers and milliseconds of the day fit in 32 bits: `| 0` keeps what follows in integer arithmetic (a third faster).
    days = Math.floor(ms / MS_PER_DAY) | 0;
    rest = (ms - days * MS_PER_DAY) | 0;
  } else {
    const ms = floorDiv((BigInt(hi) << 32n) + BigInt(lo), 1000n);
    const day = floorDiv(ms, BigInt(MS_PER_DAY));
    days = Number(day) | 0;
    rest = Number(ms - day * BigInt(MS_PER_DAY)) | 0;
  }
  at = writeDate(out, at, days);
  const hours = (rest / 3_600_000) | 0;
  rest -= hours * 3_600_000;
  const minutes = (rest / 60_000) | 0;
  rest -= minutes * 60_000;
  const seconds = (rest / 1000) | 0;
  const millis = rest - seconds * 1000;
  at = two(out, at, hours);
  out[at++] = 0x3a;
  at = two(out, at, minutes);
  out[at++] = 0x3a;
  at = two(out, at, seconds);
  out[at++] = 0x2e;
  out[at++] = 0x30 + ((millis / 100) | 0);
  at = two(out, at, millis % 100);
  out[at++] = 0x5a; // Z
  return at;
}

/** Whether the 8 bytes are `infinity` or `-infinity` (to_char gives NULL for both). */
export function isInfinite(hi: number, lo: number): boolean {
  return (hi === NO_END_HI && lo === 0xffffffff) || (hi === NO_BEGIN_HI && lo === 0);
}

/**
 * The milliseconds since 2000-01-01 (truncated, as to_char's MS) of a timestamp, or undefined
 * beyond 2^53 of them (years past about 287,000). hi·2^32 is 1000·(hi·4,294,967) + hi·296:
 * both parts and the division of the small one are exact in doubles, where the microseconds
 * themselves would not be (past 2^53, about the year 2285).
 */
export function safeMillis(hi: number, lo: number): number | undefined {
  const ms = hi * 4_294_967 + Math.floor((hi * 296 + lo) / 1000);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Writes the `YYYY-MM-DDT` of `days` since 2000-01-01 at `at`; returns the end. */
function writeDate(out: Buffer, at: number, days: number): number {
  // Hinnant's civil_from_days, counted from 0000-03-01 so that a leap day ends its year.
  const z = (days + DAYS_0000_03_TO_2000) | 0;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = ((dayOfEra - ((dayOfEra / 1460) | 0) + ((dayOfEra / 36_524) | 0) - ((dayOfEra / 146_096) | 0)) / 365) | 0;
  const dayOfYear = dayOfEra - (365 * yearOfEra + ((yearOfEra / 4) | 0) - ((yearOfEra / 100) | 0));
  const shifted = ((5 * dayOfYear + 2) / 153) | 0;
  const day = dayOfYear - (((153 * shifted + 2) / 5) | 0) + 1;
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  at = writeYear(out, at, yearOfEra + era * 400 + (month <= 2 ? 1 : 0));
  out[at++] = 0x2d;
  at = two(out, at, month);
  out[at++] = 0x2d;
  at = two(out, at, day);
  out[at++] = 0x54; // T
  return at;
}

function floorDiv(value: bigint, by: bigint): bigint {
  const quotient = value / by;
  return value % by < 0n ? quotient - 1n : quotient;
}

function two(out: Buffer, at: number, value: number): number {
  out[at] = 0x30 + ((value / 10) | 0);
  out[at + 1] = 0x30 + (value % 10);
  return at + 2;
}

/** At least four digits, as YYYY writes them; a BC year (0 is 1 BC) as its number before Christ. */
function writeYear(out: Buffer, at: number, year: number): number {
  const shown = year <= 0 ? 1 - year : year;
  if (shown < 10_000) {
    at = two(out, at, (shown / 100) | 0);
    return two(out, at, shown % 100);
  }
  return at + out.write(String(shown), at, 'latin1');
}
