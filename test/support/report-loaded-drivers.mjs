// Preloaded into a CLI child (NODE_OPTIONS=--import): prints, on exit, which PostgreSQL driver
// packages (and exceljs) the process loaded, for the test that a SQLite CSV run never pays for them.
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const require = createRequire(import.meta.url);
// The SQLite reader's worker threads preload this too; only the process's own modules count.
if (isMainThread) process.on('exit', () => {
  const drivers = new Set();
  for (const path of Object.keys(require.cache)) {
    const match = /[/\\]node_modules[/\\](pg|pg-cursor|pg-copy-streams|pg-pool|exceljs)[/\\]/.exec(path);
    if (match) drivers.add(match[1]);
  }
  process.stderr.write(`loaded drivers: ${JSON.stringify([...drivers].sort())}\n`);
});
