#!/usr/bin/env -S node --max-semi-space-size=4 --expose-gc
// The V8 flags are bin/node-flags.mjs's (a test keeps the two equal): run `node` on this file
// directly and pass them too.
// Runs the compiled CLI from dist/. `npm install` builds it (the `prepare` script). In a
// checkout of sluice itself (TypeScript installed beside it) sources changed since are rebuilt
// first, so there is never a build step to remember; an installed package runs dist as shipped
// (its file times say nothing about its build, and it has no compiler).
// Compiled JavaScript, not an on-the-fly TypeScript loader: the loader alone costs ~40 MB RSS.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/src/cli/main.js');
const stamp = join(root, 'dist/.tsbuildinfo');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function isStale() {
  if (!existsSync(entry) || !existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return ['src', 'raffle', 'pipelines'].some((dir) => existsSync(join(root, dir)) && newestSource(join(root, dir)) > built);
}

const tsc = join(root, 'node_modules/typescript/bin/tsc');
const isCheckout = existsSync(join(root, 'src')) && existsSync(join(root, 'tsconfig.build.json')) && existsSync(tsc);

if (isCheckout && isStale()) {
  const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) {
    process.stderr.write('sluice: building the sources failed (see above); fix them or run `npm run build`.\n');
    process.exit(2);
  }
}

const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
