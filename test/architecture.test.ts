import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The layout's promises, read from the import statements themselves. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every import of every source file: the file, what it names, and the file that resolves to (relative ones). */
function imports(dirs: readonly string[]): Array<{ from: string; specifier: string; to?: string }> {
  return dirs.flatMap(files).flatMap((from) => {
    const text = readFileSync(join(ROOT, from), 'utf8');
    return [...text.matchAll(SPECIFIER)].map((m) => {
      const specifier = (m[1] ?? m[2])!;
      const to = specifier.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(from), specifier)) : undefined;
      return { from, specifier, to };
    });
  });
}

const all = imports(['src', 'raffle', 'pipelines']);

function cycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

function graph(key: (file: string) => string): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of all) {
    if (!to) continue;
    const a = key(from);
    const b = key(to);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  return edges;
}

describe('the layout', () => {
  it('has no import cycle between files', () => {
    expect(cycle(graph((file) => file))).toBeUndefined();
  });

  it('has no import cycle between folders', () => {
    expect(cycle(graph((file) => dirname(file)))).toBeUndefined();
  });

  it('keeps the framework free of the raffle app: src/ imports nothing from raffle/ or pipelines/', () => {
    const leaks = all.filter(({ from, to }) => from.startsWith('src/') && to !== undefined && !to.startsWith('src/'));
    expect(leaks).toEqual([]);
  });

  it("lets the app reach the framework only through its public entry, 'sluice'", () => {
    const reaches = all.filter(({ from, to }) => !from.startsWith('src/') && to !== undefined && to.startsWith('src/'));
    expect(reaches).toEqual([]);
    expect(all.some(({ from, specifier }) => from.startsWith('raffle/') && specifier === 'sluice')).toBe(true);
  });

  it('keeps src/core to itself: it imports no other folder of the framework, not even for types', () => {
    const outside = all.filter(({ from, to }) => from.startsWith('src/core/') && to !== undefined && !to.startsWith('src/core/'));
    expect(outside).toEqual([]);
  });
});
