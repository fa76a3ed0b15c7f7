import type { Database } from '../core/database.ts';
import { type OpenOptions, openDatabase } from './open.ts';

/**
 * One open database per URL for a long-running process that runs many pipelines (the scheduler,
 * a queue worker): each pool is opened on first use, shared by later runs, and closed together.
 */
export class OpenDatabases {
  readonly #open = new Map<string, Database>();

  constructor(private readonly options: OpenOptions = {}) {}

  get(url: string, options: { readonly create?: boolean } = {}): Database {
    let db = this.#open.get(url);
    if (!db) this.#open.set(url, (db = openDatabase(url, { ...options, ...this.options })));
    return db;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.#open.values()].map((db) => db.close()));
  }
}
