import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { classifyBarcode, padBarcode } from '../../raffle/barcodes.ts';
import { barcodeConditions, padBarcodeSql } from '../../raffle/barcode-sql.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';

const pgOk = await postgresAvailable();
const dir = scratchDir();

/** Every class, edge lengths, and characters that look like digits to someone. */
const BARCODES = [
  '1', '0', '000', '0012345', '123456', '1234567', '12345678', '00000000', '99999999',
  '', '123456789', '12A', ' 123', '123 ', '-123', '1.5', '+1', '١٢٣', '１２３', '²', '1\n2', '12\t', 'ABCDEFGH', '🎟️',
];

const expected = BARCODES.map((b) => {
  const kind = classifyBarcode(b);
  return [b, kind, kind === 'short' ? padBarcode(b)! : null];
});

describe.each([
  { engine: 'sqlite' as const, skip: false },
  { engine: 'postgres' as const, skip: !pgOk },
])('barcode SQL on $engine agrees with the JavaScript classification and padding', ({ engine, skip }) => {
  let db: Database | undefined;
  let scratch: ScratchDatabase | undefined;
  beforeAll(async () => {
    if (skip) return;
    if (engine === 'postgres') scratch = await createScratchDatabase();
    db = openDatabase(scratch?.url ?? `sqlite:${dir.file('barcodes.db')}`, { create: true });
    await db.exec('CREATE TABLE codes (n INTEGER PRIMARY KEY, barcode TEXT NOT NULL)');
    for (const [n, barcode] of BARCODES.entries()) await db.change({ text: engine === 'postgres' ? 'INSERT INTO codes VALUES ($1, $2)' : 'INSERT INTO codes VALUES (?, ?)', values: [n, barcode] });
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
    dir.remove();
  });

  it.skipIf(skip)('short / done / invalid, and the padded value of every short one', async () => {
    const is = barcodeConditions(db!.dialect);
    const pad = padBarcodeSql(db!.dialect);
    const rows = await db!.query({
      text: `SELECT barcode, CASE WHEN ${is.short} THEN 'short' WHEN ${is.done} THEN 'done' ELSE 'invalid' END,
        CASE WHEN ${is.short} THEN ${pad} END FROM codes ORDER BY n`,
      values: [],
    });
    expect(rows).toEqual(expected);
  });
});
