import { writeFileSync } from 'node:fs';
import type { Pipeline } from '../../core/define.ts';
import { defaultOutputPath } from '../../core/describe.ts';
import { SluiceError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { RunSummary } from '../../core/metrics.ts';
import { runPipeline } from '../../core/run.ts';
import { resolveDatabaseUrl } from '../../db/url.ts';
import { outputForPath } from '../../sinks/file-output.ts';
import { formatSummary } from '../format.ts';

export interface RunCommandOptions {
  readonly params: Readonly<Record<string, unknown>>;
  readonly db?: string;
  readonly out?: string;
  /** Write the run's metrics as JSON here (success or failure). */
  readonly metrics?: string;
  readonly logger: Logger;
}

function writeMetrics(path: string | undefined, summary: RunSummary | undefined): void {
  if (path && summary) writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`);
}

/**
 * Runs a pipeline for the CLI: SIGINT/SIGTERM abort it cleanly (part file removed, connections
 * closed), and a second signal exits at once.
 */
export async function runCommand(pipeline: Pipeline, options: RunCommandOptions): Promise<number> {
  if (options.out !== undefined && pipeline.sink.type === 'writer') {
    throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" writes to the database; --out does not apply.`);
  }
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    options.logger.warn({ signal }, 'aborting: cleaning up (signal again to exit at once)');
    controller.abort(new SluiceError('ABORTED', `Aborted by ${signal}.`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const out = options.out ?? defaultOutputPath(pipeline);
  try {
    const summary = await runPipeline(pipeline, {
      params: options.params,
      database: resolveDatabaseUrl(options.db),
      output: out ? outputForPath(out) : undefined,
      signal: controller.signal,
      logger: options.logger,
      progressTty: process.stderr.isTTY ? process.stderr : undefined,
    });
    writeMetrics(options.metrics, summary);
    options.logger.info({ summary }, formatSummary(summary));
    return 0;
  } catch (error) {
    if (error instanceof SluiceError) {
      writeMetrics(options.metrics, error.summary);
      if (error.summary && error.summary.rows > 0 && error.code !== 'OUTPUT_CLOSED') options.logger.error({ summary: error.summary }, 'run failed');
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
