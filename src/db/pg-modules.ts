import { createRequire } from 'node:module';
import type pg from 'pg';
import type Cursor from 'pg-cursor';
import type { from } from 'pg-copy-streams';

// The PostgreSQL driver takes ~55 ms to load and a SQLite run never needs it. The three packages
// are CommonJS, so `require` loads them synchronously on first use.
const require = createRequire(import.meta.url);

export const loadPg = (): typeof pg => require('pg') as typeof pg;
export const loadCursor = (): typeof Cursor => require('pg-cursor') as typeof Cursor;
export const loadCopyFrom = (): typeof from => (require('pg-copy-streams') as { from: typeof from }).from;
