import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

// better-sqlite3 is a native CommonJS module that a PostgreSQL run never needs: loaded on first use, as pg is (pg-modules.ts).
const require = createRequire(import.meta.url);

export const loadSqlite = (): typeof BetterSqlite3 => require('better-sqlite3') as typeof BetterSqlite3;
