import { describe, expect, it } from 'vitest';
import { pgTimestampToIso } from '../../src/db/postgres-types.ts';

describe('PostgreSQL timestamp text to canonical ISO', () => {
  it.each([
    ['2026-01-01 00:00:07+00', '2026-01-01T00:00:07.000Z'],
    ['2026-01-01 00:00:07.5+00', '2026-01-01T00:00:07.500Z'],
    ['2026-01-01 00:00:07.123+00', '2026-01-01T00:00:07.123Z'],
    ['2026-01-01 00:00:07.123456+00', '2026-01-01T00:00:07.123Z'],
    ['2026-01-01 00:00:07', '2026-01-01T00:00:07.000Z'],
    ['infinity', 'infinity'],
  ])('%s -> %s', (text, iso) => {
    expect(pgTimestampToIso(text)).toBe(iso);
  });
});
