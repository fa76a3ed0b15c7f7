import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Rejection } from '../../src/core/rejects.ts';
import type { Batch } from '../../src/core/types.ts';
import { csvSource } from '../../src/sources/csv-file.ts';

const columns = [
  { name: 'id', type: 'integer' as const, required: true },
  { name: 'note', type: 'text' as const },
];

/** The rows and rejections of `text` read by csvSource, fed in chunks of `chunk` bytes. */
async function read(text: string, chunk = 7): Promise<{ rows: Batch; rejected: Array<[string, string]> }> {
  const bytes = Buffer.from(text);
  const pieces = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
  const rejected: Array<[string, string]> = [];
  const ctx = {
    batchSize: 2,
    params: {},
    reject: (r: Rejection) => void rejected.push([r.where, r.reason]),
    input: () => ({ open: () => Readable.from(pieces), description: 'test.csv' }),
  };
  const rows: Batch = [];
  for await (const batch of csvSource({ columns }).open(ctx as never) as AsyncIterable<Batch>) rows.push(...batch);
  return { rows, rejected };
}

describe('csvSource', () => {
  it('names the line a rejected row starts on as an editor counts it: CRLF once, quoted line breaks and skipped empty lines included', async () => {
    const text = 'id,note\r\n1,"two\r\nlines"\r\n\r\n\r\nx,after blanks\r\n3,"a\r\n\r\nb"\r\ny,last\r\n';
    const { rows, rejected } = await read(text);
    expect(rows).toEqual([
      [1, 'two\r\nlines'],
      [3, 'a\r\n\r\nb'],
    ]);
    expect(rejected).toEqual([
      ['line 6', 'bad integer for id: x is not an integer'],
      ['line 10', 'bad integer for id: y is not an integer'],
    ]);
  });

  it('counts LF-only files the same way', async () => {
    const { rejected } = await read('id,note\n\n"1",\nz,""\n', 3);
    expect(rejected).toEqual([['line 4', 'bad integer for id: z is not an integer']]);
  });

  it('reads an unquoted empty field as NULL and a quoted one as empty text', async () => {
    const { rows } = await read('\uFEFFid,note\n1,\n2,""\n');
    expect(rows).toEqual([
      [1, null],
      [2, ''],
    ]);
  });
});
