import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/types.ts';
import { xlsxSource } from '../../src/sources/xlsx-file.ts';

const columns = [
  { name: 'id', type: 'integer' as const, required: true },
  { name: 'note', type: 'text' as const },
];

/** A workbook whose first sheet is not the tickets. */
async function workbook(): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.addWorksheet('Read me').addRows([['This file lists tickets on the next sheet.']]);
  book.addWorksheet('Tickets').addRows([['ID', 'Note'], [1, 'one'], [2, null], [3, 'three']]);
  return Buffer.from(await book.xlsx.writeBuffer());
}

async function read(sheet: string | undefined, bytes: Buffer): Promise<Batch> {
  const rows: Batch = [];
  const ctx = { batchSize: 2, params: {}, reject: () => undefined, input: () => ({ open: () => Readable.from([bytes]), description: 'tickets.xlsx' }) };
  for await (const batch of xlsxSource({ columns, ...(sheet === undefined ? {} : { sheet }) }).open(ctx as never) as AsyncIterable<Batch>) rows.push(...batch);
  return rows;
}

describe('xlsxSource', () => {
  it('reads the sheet named by `sheet`, whatever its place, and the first one without it', async () => {
    const bytes = await workbook();
    expect(await read('Tickets', bytes)).toEqual([
      [1, 'one'],
      [2, null],
      [3, 'three'],
    ]);
    await expect(read(undefined, bytes)).rejects.toThrow('The input has no column for "id"');
  });

  it('names the sheets it has when the one asked for is missing', async () => {
    await expect(read('Sold', await workbook())).rejects.toMatchObject({ code: 'INPUT_FAILED', message: 'tickets.xlsx: no sheet named "Sold" (its sheets: "Read me", "Tickets").' });
  });
});
