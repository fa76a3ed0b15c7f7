import { describe, expect, it } from 'vitest';
import { groupDigits } from '../../src/core/group-digits.ts';

describe('groupDigits', () => {
  it('writes integers as toLocaleString("en-US") does', () => {
    const values = [0, 7, -7, 999, 1000, -1000, 12_345, 100_000, 999_999, 1_000_000, 1_048_576, -123_456_789, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    for (let n = 1; n < 1e15; n = n * 7 + 3) values.push(n, -n);
    for (const n of values) expect(groupDigits(n), String(n)).toBe(n.toLocaleString('en-US'));
  });

  it('leaves what is not a safe integer to toLocaleString', () => {
    for (const n of [1.5, -0.25, 2 ** 60, Number.NaN, Number.POSITIVE_INFINITY]) expect(groupDigits(n)).toBe(n.toLocaleString('en-US'));
  });
});
