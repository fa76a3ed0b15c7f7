import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/core/types.ts';
import { padBarcodeBatch } from '../../raffle/pad-barcodes.ts';

describe('padBarcodeBatch', () => {
  const batch: Row[] = [
    [1, '123'],
    [2, '12345678'],
    [3, '12A'],
    [4, '7654321'],
    [5, ''],
    [6, '999'],
  ];

  it('pads short numeric barcodes, drops rows already 8 digits and counts invalid ones', () => {
    const drops: string[] = [];
    const out = padBarcodeBatch(1, { onDrop: (reason) => drops.push(reason) })(batch);
    expect(out).toEqual([
      [1, '00000123'],
      [4, '07654321'],
      [6, '00000999'],
    ]);
    expect(drops).toEqual(['invalid', 'invalid']);
  });

  it('leaves skipped rows out, appends the stamp to changed rows, and never alters its input', () => {
    const copy = structuredClone(batch);
    const drops: string[] = [];
    const out = padBarcodeBatch(1, { skip: (row) => row[0] === 6, stamp: '2026-05-01T10:00:00.000Z', onDrop: (r) => drops.push(r) })(batch);
    expect(out).toEqual([
      [1, '00000123', '2026-05-01T10:00:00.000Z'],
      [4, '07654321', '2026-05-01T10:00:00.000Z'],
    ]);
    expect(drops).toEqual(['invalid', 'invalid', 'skipped']);
    expect(batch).toEqual(copy);
  });

  it('returns an empty batch when nothing needs a change', () => {
    expect(padBarcodeBatch(0)([['00000001'], ['12345678']])).toEqual([]);
  });
});
