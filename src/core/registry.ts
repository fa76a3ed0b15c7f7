import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Pipeline } from './define.ts';
import { SluiceError } from './errors.ts';

export const PIPELINES_DIR = fileURLToPath(new URL('../../pipelines/', import.meta.url));

function isPipeline(value: unknown): value is Pipeline {
  return typeof value === 'object' && value !== null && 'allParams' in value && 'source' in value && 'sink' in value;
}

/** One pipeline per file, named like its file; adding a pipeline is adding a file. */
async function loadFrom(dir: string): Promise<Map<string, Pipeline>> {
  const files = readdirSync(dir).filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts')).sort();
  const pipelines = new Map<string, Pipeline>();
  for (const file of files) {
    const module = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
    const pipeline = module.default;
    const expected = basename(file).replace(/\.(ts|js|mjs)$/, '');
    if (!isPipeline(pipeline)) throw new SluiceError('INVALID_DEFINITION', `${file} must export a definePipeline(...) as its default export.`);
    if (pipeline.name !== expected) throw new SluiceError('INVALID_DEFINITION', `${file} defines "${pipeline.name}"; a pipeline file is named after its pipeline.`);
    pipelines.set(pipeline.name, pipeline);
  }
  return pipelines;
}

let cached: Promise<Map<string, Pipeline>> | undefined;

export function loadPipelines(dir = PIPELINES_DIR): Promise<Map<string, Pipeline>> {
  if (dir !== PIPELINES_DIR) return loadFrom(dir);
  cached ??= loadFrom(dir);
  return cached;
}

export async function getPipeline(name: string): Promise<Pipeline> {
  const pipelines = await loadPipelines();
  const pipeline = pipelines.get(name);
  if (!pipeline) {
    throw new SluiceError('UNKNOWN_PIPELINE', `Unknown pipeline "${name}". Known pipelines: ${[...pipelines.keys()].join(', ')} (see \`sluice list\`).`);
  }
  return pipeline;
}
