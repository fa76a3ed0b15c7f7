import { SluiceError } from '../core/errors.ts';
import { openDatabase } from '../db/open.ts';
import { parseDatabaseUrl, resolveDatabaseUrl } from '../db/url.ts';
import type { Workspace } from './apps.ts';
import { type Command, DB_OPTION, defineCommand } from './command.ts';

/** Creates the app's tables (and the SQLite file; with `create`, the PostgreSQL database) if missing. */
export async function dbInitCommand(ws: Workspace, dbFlag: string | undefined, create = false): Promise<string> {
  const init = ws.initDatabase;
  if (!init) throw new SluiceError('USAGE', 'No app here defines tables to create: `sluice db init` runs an app\'s initDatabase (see defineApp).');
  const url = resolveDatabaseUrl(dbFlag, ws.defaultDatabase);
  const location = parseDatabaseUrl(url);
  let created = '';
  if (create && location.dialect === 'postgres') {
    const { createPostgresDatabase } = await import('../db/postgres-admin.ts');
    if (await createPostgresDatabase(location.connectionString)) created = `Created database ${location.label}\n`;
  }
  const db = openDatabase(url, { create: true });
  try {
    await init(db);
    return `${created}Tables ready in ${db.label}\n`;
  } finally {
    await db.close();
  }
}

export function dbInitCli(ws: Workspace): Command {
  return defineCommand({
    name: 'db init',
    summary: "Creates the app's tables and indexes (the raffle app: tickets), and the SQLite file; safe to run again.",
    options: {
      db: DB_OPTION,
      create: { type: 'boolean', default: false, description: 'PostgreSQL: create the database first if it does not exist' },
    },
    async action({ options }) {
      process.stdout.write(await dbInitCommand(ws, options.db as string | undefined, options.create as boolean));
      return 0;
    },
  });
}
