import type { Logger } from '../core/logger.ts';
import { serveMetrics } from '../metrics/metrics-server.ts';
import { SluiceMetrics } from '../metrics/prometheus.ts';
import { LiveRuns } from '../ops/live-runs.ts';
import { drainOnSignals } from '../ops/shutdown.ts';
import type { ScheduleConfig } from '../schedule/config.ts';
import { Scheduler } from '../schedule/scheduler.ts';
import { RunQueue, queueUrl } from '../queue/run-queue.ts';
import type { Workspace } from './apps.ts';
import type { databaseOptions } from './command.ts';

export interface ScheduleRun {
  readonly config: ScheduleConfig;
  readonly ws: Workspace;
  readonly db: string | undefined;
  readonly logger: Logger;
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  readonly shutdownTimeoutMs: number;
  readonly history: boolean;
  readonly queueDb: string | undefined;
  readonly options: ReturnType<typeof databaseOptions>;
}

/** The job queue, opened on the first fire of a `"via": "queue"` job; `close()` closes it if it was. */
function lazyQueue(url: () => string): { readonly open: () => Promise<RunQueue>; close(): Promise<void> } {
  let opened: Promise<RunQueue> | undefined;
  return {
    open: () => (opened ??= RunQueue.open(url(), { supervise: false })),
    close: async () => {
      if (opened) await (await opened.catch(() => undefined))?.close();
    },
  };
}

/** Runs the schedule until SIGTERM or SIGINT, then drains: running jobs finish (up to the timeout) or are aborted cleanly. */
export async function runSchedule(run: ScheduleRun): Promise<number> {
  const metrics = new SluiceMetrics();
  const queue = lazyQueue(() => run.config.queue ?? queueUrl(run.queueDb));
  const scheduler = new Scheduler({
    queue: queue.open,
    config: run.config,
    defaultDatabase: run.db ?? run.ws.defaultDatabase,
    databaseOptions: run.options,
    logger: run.logger,
    metrics,
    history: run.history,
    live: new LiveRuns(),
  });
  const server = run.metricsPort === undefined ? undefined : await serveMetrics(metrics, () => ({ runningJobs: scheduler.running }), { port: run.metricsPort, host: run.metricsHost, label: 'sluice schedule' });
  scheduler.start();
  process.stderr.write(`sluice schedule: ${run.config.jobs.length} job${run.config.jobs.length === 1 ? '' : 's'} scheduled\n`);
  await drainOnSignals(scheduler, run.shutdownTimeoutMs, run.logger, 'job(s)');
  await queue.close();
  server?.close();
  return 0;
}
