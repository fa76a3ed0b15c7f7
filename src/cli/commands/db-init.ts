import { openDatabase } from '../../db/open.ts';
import { initTicketsTable } from '../../db/tickets.ts';
import { resolveDatabaseUrl } from '../../db/url.ts';

/** Creates the tickets table (and the SQLite file) if missing. */
export async function dbInitCommand(dbFlag: string | undefined): Promise<string> {
  const db = openDatabase(resolveDatabaseUrl(dbFlag), { create: true });
  try {
    await initTicketsTable(db);
    return `Tickets table ready in ${db.label}\n`;
  } finally {
    await db.close();
  }
}
