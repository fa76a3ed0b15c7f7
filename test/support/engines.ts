import { afterAll, beforeAll } from 'vitest';
import { createScratchDatabase, postgresAvailable } from './postgres.ts';
import { type ScratchDir, scratchDir } from './sqlite.ts';
import { seedTickets } from './tickets.ts';

/**
 * The databases a test file runs on, as `[engine, url]` pairs for `describe.each`: a SQLite file
 * in a scratch folder and, when the server answers, a scratch PostgreSQL database; both seeded
 * with the test tickets before the file's tests and removed after them. Call it at the top
 * level of the file.
 */
export async function seededEngines(prefix: string): Promise<{ readonly engines: Array<[string, string]>; readonly dir: ScratchDir }> {
  const dir = scratchDir(prefix);
  const engines: Array<[string, string]> = [['sqlite', `sqlite:${dir.file('tickets.db')}`]];
  const scratch = (await postgresAvailable()) ? await createScratchDatabase() : undefined;
  if (scratch) engines.push(['postgres', scratch.url]);
  beforeAll(async () => {
    for (const [, url] of engines) await seedTickets(url);
  });
  afterAll(async () => {
    await scratch?.drop();
    dir.remove();
  });
  return { engines, dir };
}
