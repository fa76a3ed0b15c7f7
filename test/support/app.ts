import app, { ADMIN_ROUTES } from '../../raffle/app.ts';
import type { Pipeline } from '../../src/core/define.ts';
import { type PipelineSet, loadPipelines, pipelineNamed } from '../../src/core/registry.ts';

/** The raffle app's pipelines, as the CLI loads them. */
export const bundled: Promise<PipelineSet> = loadPipelines(app.pipelines ?? []);

export async function bundledPipeline(name: string): Promise<Pipeline> {
  return pipelineNamed(await bundled, name);
}

/** What `sluice serve` passes createSluiceServer for the raffle app. */
export async function raffleServer(): Promise<{ pipelines: PipelineSet; routes: Readonly<Record<string, string>> }> {
  return { pipelines: await bundled, routes: ADMIN_ROUTES };
}
