import type { Row } from '../../src/core/types.ts';

/** Characters that exercise every quoting and escaping rule, plus formula triggers and unicode. */
const ALPHABET = [',', '"', '\r', '\n', '\t', '\\', '\b', '\f', '\v', ' ', '=', '@', '+', '-', '.', '(', ')', '0', '7', 'a', 'Z', 'é', '🎟', '日', '\u0001'];

/** A deterministic pseudo-random generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * `count` tickets of fuzzed text (NULL, empty, number- and formula-looking values, quotes, line
 * breaks, unicode), the same for the same `seed`. Barcodes start with any character (formula
 * triggers included), for the one-column TXT export. `id` gives the i-th ticket's key.
 */
export function fuzzTickets(count: number, options: { readonly seed: number; readonly id?: (i: number) => number }): Row[] {
  const next = random(options.seed);
  const id = options.id ?? ((i: number) => i + 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const text = (): string | null => {
    const roll = next();
    if (roll < 0.1) return null;
    if (roll < 0.15) return '';
    if (roll < 0.2) return pick(['+15551234567', '-12.5', '+1 (555) 010-9999', '=1+1', '-x', '\\.', ' lead', 'trail ']);
    return Array.from({ length: 1 + Math.floor(next() * 8) }, () => pick(ALPHABET)).join('');
  };
  const timestamp = () => new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 3e10)).toISOString();
  return Array.from({ length: count }, (_, i): Row => {
    const status = pick(['available', 'sold', 'void', 'redeemed']);
    return [id(i), `T${i + 1}-${text() ?? ''}`, `${text() ?? ''}~${i + 1}`, text() ?? 'cat', Math.floor(next() * 5000) - 100, status, text(), text(), text(), text(), next() < 0.3 ? null : timestamp(), timestamp(), timestamp()];
  });
}
