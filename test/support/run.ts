import { readFileSync } from 'node:fs';
import { getPipeline } from '../../src/core/registry.ts';
import { runPipeline } from '../../src/core/run.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import type { RunResult } from '../../src/core/run.ts';

/** Runs a registered pipeline in-process into `path` and returns the file's text and the run summary. */
export async function exportTo(name: string, database: string, path: string, params: Record<string, unknown> = {}): Promise<{ text: string; summary: RunResult }> {
  const summary = await runPipeline(await getPipeline(name), { database, params, output: fileOutput(path) });
  return { text: readFileSync(path, 'utf8'), summary };
}
