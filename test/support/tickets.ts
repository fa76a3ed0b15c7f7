import type { Row } from '../../src/core/types.ts';
import type { Database } from '../../src/core/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { TICKET_COLUMNS, initTicketsTable } from '../../raffle/tickets.ts';

/**
 * A hand-made table of awkward values: quotes, commas, CR/LF, tabs, backslashes, unicode and
 * emoji, NULLs and empty strings, leading zeros, leading/trailing spaces, formula-looking text.
 */
export const AWKWARD_TICKETS: Row[] = [
  [1, 'T-0001', '00012345', 'standard', 500, 'sold', 'Ann "Nancy" O\'Neil', 'ann@example.com', '+15551234567', 'box office', '2026-01-01T00:00:07.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:07.000Z'],
  [2, 'T-0002', '00000001', 'vip', 2500, 'available', null, null, null, null, null, '2026-01-02T10:20:30.123Z', '2026-01-02T10:20:30.123Z'],
  [3, 'T-0003', '12345678', 'student, discounted', 250, 'sold', 'Line\nBreak', 'crlf\r\nuser@example.com', '-12.5', '', '2026-02-28T23:59:59.999Z', '2026-01-03T00:00:00.000Z', '2026-02-28T23:59:59.999Z'],
  [4, 'T-0004', '0000000A', 'early-bird', 300, 'redeemed', '=HYPERLINK("http://evil","x")', '@SUM(A1)', '+1 (555) 010-9999', 'tab\there', '2026-03-01T00:00:00.000Z', '2026-01-04T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
  [5, 'T-0005', '99999999', 'vip', 0, 'void', '  padded  ', 'back\\slash@example.com', '+cmd|calc', '-2+3', null, '2026-01-05T00:00:00.000Z', '2026-01-05T00:00:00.000Z'],
  [6, 'T-0006', '00000042', 'standard', 500, 'sold', 'Zoë Ünïcødé 🎟️ 日本', 'zoe@example.com', '\t+15550000000', '\rcarriage', '2026-01-06T12:00:00.500Z', '2026-01-06T00:00:00.000Z', '2026-01-06T12:00:00.500Z'],
];

export async function insertTickets(db: Database, rows: readonly Row[] = AWKWARD_TICKETS): Promise<void> {
  await initTicketsTable(db);
  await db.insertBatch({ table: 'tickets', columns: TICKET_COLUMNS }, rows);
}

/** Opens the database at `url` for one use, and closes it whatever happens. */
export async function withDatabase<T>(url: string, use: (db: Database) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  const db = openDatabase(url, options);
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

/** Creates the tickets table at `url` (and the SQLite file) and inserts `rows`. */
export function seedTickets(url: string, rows: readonly Row[] = AWKWARD_TICKETS): Promise<void> {
  return withDatabase(url, (db) => insertTickets(db, rows), { create: true });
}
