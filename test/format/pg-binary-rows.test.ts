import { describe, expect, it } from 'vitest';
import type { Columns, Row, TextEncoding } from '../../src/core/types.ts';
import { type PgBinaryKind, PgBinaryRowsTranscoder } from '../../src/format/pg-binary-rows.ts';
import { batchEncoder } from '../../src/format/text-encoding.ts';
import { type Cell, EPOCH_2000_MS, binaryCopy, inPieces, micros } from '../support/pg-binary.ts';

function transcodeAll(columns: Columns, kinds: PgBinaryKind[], encoding: TextEncoding, input: Buffer, cut: (at: number) => number): string {
  return inPieces(new PgBinaryRowsTranscoder(columns, kinds, encoding), input, cut).toString('utf8');
}

const AWKWARD = ['', 'plain', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rhere', 'tab\there', '\tstarts with tab', '\rstarts with CR', '=SUM(A1)', '@cmd', '+1 (555) 010-9999', '-42', '+', '-', '-abc', '+1e5', 'back\\slash', '\\.', '\b\f\v', 'É unicode ✓ 🎉', 'line\u2028separator', '  spaced  ', '"', ',', "'quoted'"];

const columns: Columns = [
  { name: 'id', type: 'integer' },
  { name: 'label', type: 'text' },
  { name: 'at', type: 'timestamp' },
];
const kinds: PgBinaryKind[] = ['digits', 'text', 'timestamp'];

/** The same rows as binary cells and as the values the row encoders take. */
function awkwardRows(): { cells: Cell[][]; values: Row[] } {
  const cells: Cell[][] = [];
  const values: Row[] = [];
  const times = ['2026-01-22T14:02:58.440Z', '1999-12-31T23:59:59.999Z', '1969-12-31T23:59:59.001Z', '2000-01-01T00:00:00.000Z', '2000-02-29T12:00:00.999Z', '1900-02-28T23:59:59.000Z', '9999-12-31T23:59:59.999Z', '0001-01-01T00:00:00.000Z'];
  AWKWARD.forEach((label, i) => {
    const time = times[i % times.length]!;
    const id = i === 3 ? '-9223372036854775808' : String(i * 1_000_003);
    cells.push([id, label, micros(time)]);
    values.push([id, label, time]);
  });
  cells.push(['7', null, null]);
  values.push(['7', null, null]);
  return { cells, values };
}

const ENCODINGS: TextEncoding[] = [
  { format: 'csv', header: true, escapeFormulas: true, preamble: '' },
  { format: 'csv', header: false, escapeFormulas: false, preamble: '' },
  { format: 'text', header: true, escapeFormulas: true, preamble: '' },
  { format: 'text', header: false, escapeFormulas: false, preamble: '' },
];

describe('PostgreSQL binary COPY to CSV/TSV (pure)', () => {
  const { cells, values } = awkwardRows();
  const input = binaryCopy(cells);

  it.each(ENCODINGS)('writes the row encoders’ bytes for awkward values: %o', (encoding) => {
    const encoder = batchEncoder(encoding, columns);
    const expected = encoder.header + encoder.encode(values);
    expect(transcodeAll(columns, kinds, encoding, input, () => input.length)).toBe(expected);
  });

  it('writes the same bytes whichever way the chunks split the rows (every cut of one and two pieces)', () => {
    const encoding = ENCODINGS[0]!;
    const whole = transcodeAll(columns, kinds, encoding, input, () => input.length);
    expect(transcodeAll(columns, kinds, encoding, input, () => 1)).toBe(whole);
    for (let cut = 1; cut < input.length; cut += 7) expect(transcodeAll(columns, kinds, encoding, input, (at) => (at === 0 ? cut : input.length))).toBe(whole);
  });

  it('writes one column as TXT and single-column CSV write it (`\\.` quoted in CSV)', () => {
    const one: Columns = [{ name: 'label', type: 'text' }];
    const single = binaryCopy(AWKWARD.map((label) => [label]));
    for (const format of ['csv', 'text'] as const) {
      const encoding: TextEncoding = { format, header: false, escapeFormulas: true, preamble: '' };
      expect(transcodeAll(one, ['text'], encoding, single, () => 5)).toBe(batchEncoder(encoding, one).encode(AWKWARD.map((label) => [label])));
    }
  });

  it('counts the rows it wrote, for progress', () => {
    const transcoder = new PgBinaryRowsTranscoder(columns, kinds, ENCODINGS[0]!);
    transcoder.transcode(input.subarray(0, 200));
    expect(transcoder.rows).toBeGreaterThan(0);
    expect(transcoder.rows).toBeLessThan(values.length);
    transcoder.transcode(input.subarray(200));
    expect(transcoder.rows).toBe(values.length);
  });

  it('skips a header extension', () => {
    const encoding = ENCODINGS[1]!;
    const expected = transcodeAll(columns, kinds, encoding, input, () => input.length);
    expect(transcodeAll(columns, kinds, encoding, binaryCopy(cells, Buffer.from('ext')), () => 3)).toBe(expected);
  });

  it('writes timestamps as to_char does where JavaScript dates stop: BC years, years past 9999, infinities', () => {
    const at: Columns = [{ name: 'at', type: 'timestamp' }];
    // Date.UTC would take years 0-99 for 1900-1999.
    const days = (year: number) => BigInt(new Date(0).setUTCFullYear(year, 0, 1) - EPOCH_2000_MS) * 1000n;
    const rows: Cell[][] = [
      [days(-43) + 12n * 3_600_000_000n + 500_000n], // 44 BC, 12:00:00.5
      [days(0)], // 1 BC
      [days(12345) + 123_999n],
      [0x7fffffffffffffffn], // infinity
      [-0x8000000000000000n], // -infinity
      [9_223_371_331_200_000_000n - 1n], // PostgreSQL's last timestamp, past 2^53 microseconds
      [-1n], // 1999-12-31 23:59:59.999999
    ];
    const encoding: TextEncoding = { format: 'csv', header: false, escapeFormulas: false, preamble: '' };
    expect(transcodeAll(at, ['timestamp'], encoding, binaryCopy(rows), () => 64).split('\n')).toEqual([
      '0044-01-01T12:00:00.500Z',
      '0001-01-01T00:00:00.000Z',
      '12345-01-01T00:00:00.123Z',
      '',
      '',
      '294276-12-31T23:59:59.999Z',
      '1999-12-31T23:59:59.999Z',
      '',
    ]);
  });

  it('fails on what is not binary COPY, and on rows that stop in the middle', () => {
    const encoding = ENCODINGS[0]!;
    expect(() => new PgBinaryRowsTranscoder(columns, kinds, encoding).transcode(Buffer.from('id,label\n1,2\n3,4\n5,6\n'))).toThrow(/binary COPY signature/);
    const cutShort = new PgBinaryRowsTranscoder(columns, kinds, encoding);
    cutShort.transcode(input.subarray(0, input.length - 20));
    expect(() => cutShort.finish()).toThrow(/ended in the middle/);
    expect(() => new PgBinaryRowsTranscoder([columns[0]!], ['digits'], encoding).transcode(input)).toThrow(/a row of 3 columns where 1 were expected/);
  });
});
