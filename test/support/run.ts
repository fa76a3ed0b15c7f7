import { readFileSync } from 'node:fs';
import { bundledPipeline } from '../support/app.ts';
import { runPipeline } from '../../src/index.ts';
import { fileOutput } from '../../src/sinks/file-output.ts';
import type { RunResult } from '../../src/core/run.ts';

/** Runs a registered pipeline in-process into `path` and returns the file's text and the run summary. */
export async function exportTo(name: string, database: string, path: string, params: Readonly<Record<string, string | number | boolean>> = {}): Promise<{ text: string; summary: RunResult }> {
  const summary = await runPipeline(await bundledPipeline(name), { database, params, output: fileOutput(path) });
  return { text: readFileSync(path, 'utf8'), summary };
}
