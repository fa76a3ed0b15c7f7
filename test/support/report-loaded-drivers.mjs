// Preloaded into a CLI child (NODE_OPTIONS=--import): prints, on exit, which PostgreSQL driver
// packages the process loaded, for the test that a SQLite run never pays for them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
process.on('exit', () => {
  const drivers = new Set();
  for (const path of Object.keys(require.cache)) {
    const match = /[/\\]node_modules[/\\](pg|pg-cursor|pg-copy-streams|pg-pool)[/\\]/.exec(path);
    if (match) drivers.add(match[1]);
  }
  process.stderr.write(`loaded drivers: ${JSON.stringify([...drivers].sort())}\n`);
});
