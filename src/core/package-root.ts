import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SluiceError } from './errors.ts';

/** The sluice package's root (where its package.json is), and whether this code runs compiled (dist/) or from its sources. */
export function packageRoot(): { readonly root: string; readonly compiled: boolean } {
  const here = fileURLToPath(import.meta.url);
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'sluice') return { root: dir, compiled: here.endsWith('.js') };
    if (dirname(dir) === dir) throw new SluiceError('INTERNAL', `No package.json of sluice above ${here}.`);
  }
}
