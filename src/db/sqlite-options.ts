export interface SqliteOptions {
  /** Create the file (and its folder) if missing; only `db init` and seeding want this. */
  readonly create?: boolean;
}
