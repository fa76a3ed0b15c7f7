import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Pipeline } from './define.ts';
import { SluiceError } from './errors.ts';
import { didYouMean } from './suggest.ts';

/** Pipelines by name. */
export type PipelineSet = ReadonlyMap<string, Pipeline>;

const PIPELINE_FILE = /^[^.].*\.(ts|mts|js|mjs)$/;

function isPipeline(value: unknown): value is Pipeline {
  return typeof value === 'object' && value !== null && 'allParams' in value && 'source' in value && 'sink' in value;
}

function isUnknownExtension(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'ERR_UNKNOWN_FILE_EXTENSION';
}

let typescriptReady: Promise<void> | undefined;

/**
 * A TypeScript file of sluice's own: in the sources beside this file, or, from dist/, in the
 * sources the package ships (`files` in package.json).
 */
function probeUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('./typescript-probe.ts', here) : new URL('../../../src/core/typescript-probe.ts', here);
}

/**
 * TypeScript imports, ready: the process runs them already (tsx, vitest), or tsx's module hooks
 * are registered (tsx loads only then: a run without TypeScript costs nothing). Asked of a file
 * of sluice's own: Node remembers a failed import of a URL, and an app's file that failed once
 * would fail again when another file of the app imports it.
 */
function typescriptImports(): Promise<void> {
  typescriptReady ??= import(probeUrl().href).then(
    () => undefined,
    async (error: unknown) => {
      if (!isUnknownExtension(error)) throw error;
      const { register } = await import('tsx/esm/api');
      register();
    },
  );
  return typescriptReady;
}

/** The default export of an app's module (a pipeline file, an app definition): an app's files need no build step. */
export async function importDefault(path: string): Promise<unknown> {
  if (/\.[cm]?ts$/.test(path)) await typescriptImports();
  return ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
}

/** The nearest package.json's `type`, as Node reads it for `.js` and tsx for `.ts` files. */
function packageType(path: string): string | undefined {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Why a module may have failed to load: app files import 'sluice', an ES module, so they must be
 * ES modules too, which `.js` and `.ts` files are only in a package of `"type": "module"`.
 */
function moduleTypeHint(path: string): string | undefined {
  if (!/\.(js|ts)$/.test(path) || packageType(path) === 'module') return undefined;
  return `it is not an ES module, and sluice files must be: add "type": "module" to the app's package.json, or name the file .${path.endsWith('.ts') ? 'mts' : 'mjs'}`;
}

/** Why a module could not be loaded, in one line: the likely fix first, then what Node said. */
export function loadFailure(path: string, error: unknown): string {
  const said = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  const hint = moduleTypeHint(path);
  return hint ? `${hint} (${said})` : said!;
}

function definitionError(path: string, message: string, cause?: unknown): SluiceError {
  return new SluiceError('INVALID_DEFINITION', `${path}: ${message}`, { cause });
}

/** One pipeline per file, named like its file; adding a pipeline is adding a file. */
async function loadFile(path: string): Promise<Pipeline> {
  let pipeline: unknown;
  try {
    pipeline = await importDefault(path);
  } catch (error) {
    if (error instanceof SluiceError) throw definitionError(path, error.message, error);
    throw definitionError(path, `cannot be loaded: ${loadFailure(path, error)}`, error);
  }
  const expected = basename(path).replace(/\.[^.]+$/, '');
  if (!isPipeline(pipeline)) throw definitionError(path, 'must export a definePipeline(...) as its default export.');
  if (pipeline.name !== expected) throw definitionError(path, `defines "${pipeline.name}"; a pipeline file is named after its pipeline (${pipeline.name}.ts).`);
  return pipeline;
}

function pipelineFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    throw new SluiceError('USAGE', `Cannot read the pipelines folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return entries
    .filter((file) => PIPELINE_FILE.test(file) && !/\.d\.[mc]?ts$/.test(file))
    .map((file) => join(dir, file))
    .filter((path) => statSync(path).isFile())
    .sort();
}

/**
 * The pipelines of one or more folders (each `.ts`, `.mts`, `.js` or `.mjs` file a pipeline; folders
 * inside are not read). Two pipelines of the same name are an error naming both files.
 */
export async function loadPipelines(dirs: string | readonly string[]): Promise<PipelineSet> {
  const pipelines = new Map<string, Pipeline>();
  const origins = new Map<string, string>();
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    for (const path of pipelineFiles(resolve(dir))) {
      const pipeline = await loadFile(path);
      const earlier = origins.get(pipeline.name);
      if (earlier !== undefined && earlier !== path) {
        throw new SluiceError('INVALID_DEFINITION', `Two pipelines are named "${pipeline.name}": ${earlier} and ${path}. Rename one of them (file and name).`);
      }
      pipelines.set(pipeline.name, pipeline);
      origins.set(pipeline.name, path);
    }
  }
  return pipelines;
}

/** A pipeline by name, or an error naming the known ones (and the nearest). */
export function pipelineNamed(pipelines: PipelineSet, name: string): Pipeline {
  const pipeline = pipelines.get(name);
  if (pipeline) return pipeline;
  const hint = didYouMean(name, pipelines.keys());
  throw new SluiceError('UNKNOWN_PIPELINE', `Unknown pipeline "${name}".${hint} Known pipelines: ${[...pipelines.keys()].join(', ') || 'none'} (see \`sluice list\`).`);
}
