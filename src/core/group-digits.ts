/**
 * An integer with thousands separators, as `toLocaleString('en-US')` writes it, without loading
 * ICU's locale data: the first `toLocaleString` of a process takes 9 ms, and pipelines' summaries
 * are written when they are defined, so every command paid it at start-up.
 */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, digits.length % 3 || 3);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}
