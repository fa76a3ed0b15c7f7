import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export interface ScratchDir {
  readonly path: string;
  file(name: string): string;
  remove(): void;
}

export function scratchDir(prefix = 'sluice-test-'): ScratchDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, file: (name) => join(path, name), remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The part files of an atomic output (`<name>.<random>.part`, beside it) that exist now. */
export function partFilesOf(target: string): string[] {
  const prefix = `${basename(target)}.`;
  try {
    return readdirSync(dirname(target)).filter((f) => f.startsWith(prefix) && f.endsWith('.part'));
  } catch {
    return [];
  }
}
