import type { Database } from './database.ts';

/**
 * What an application built on sluice adds to the CLI and the server besides its pipelines:
 * where its pipeline files are, the database it uses by default, download routes of its own,
 * how to create its tables (`sluice db init`) and how to seed demo data (`sluice demo`). The
 * framework knows apps only through this; the raffle app bundled with the package is one.
 */
export interface AppDefinition {
  readonly name: string;
  /** Folders of pipeline files, absolute. */
  readonly pipelines?: readonly string[];
  /** The database when neither `--db` nor `DATABASE_URL` names one. */
  readonly defaultDatabase?: string;
  /** Download routes for `sluice serve`, path to pipeline name (besides `/api/pipelines/<name>/output`). */
  readonly routes?: Readonly<Record<string, string>>;
  /** `sluice db init`: creates the app's tables and indexes; safe to run again. */
  readonly initDatabase?: (db: Database) => Promise<void>;
  /** `sluice demo`: the pipeline that seeds demo data (it takes `count` and `reset`), and the demo's own database. */
  readonly demo?: { readonly seedPipeline: string; readonly database: string };
}

export function defineApp(app: AppDefinition): AppDefinition {
  return Object.freeze({ ...app });
}
