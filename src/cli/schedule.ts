import type { LogLevel, Logger } from '../core/logger.ts';
import { SluiceError } from '../core/errors.ts';
import { serveMetrics } from '../metrics/metrics-server.ts';
import { SluiceMetrics } from '../metrics/prometheus.ts';
import { LiveRuns } from '../ops/live-runs.ts';
import { drainOnSignals } from '../ops/shutdown.ts';
import { type Job, type ScheduleConfig, loadSchedule } from '../schedule/config.ts';
import { Scheduler } from '../schedule/scheduler.ts';
import { RunQueue, queueUrl } from '../queue/run-queue.ts';
import type { Workspace } from './apps.ts';
import { type Command, DATABASE_TIMEOUT_OPTIONS, DB_OPTION, LOG_LEVEL_OPTION, METRICS_OPTIONS, QUEUE_DB_OPTION, databaseOptions, defineCommand, shutdownTimeoutOption } from './command.ts';
import { formatTable } from './format.ts';

/** `2026-12-01 02:00:00 Europe/Paris`. */
function inZone(at: Date, timezone: string): string {
  return `${at.toLocaleString('sv-SE', { timeZone: timezone })} ${timezone}`;
}

export function checkText(config: ScheduleConfig, nextRuns: (job: Job) => Date[]): string {
  const rows = config.jobs.map((job) => [job.name, job.cron, job.pipeline.name, job.out ?? '(database)']);
  const times = config.jobs.map((job) => `${job.name}:\n${nextRuns(job).map((at) => `  ${inZone(at, job.timezone)}`).join('\n')}`);
  return `${formatTable(['job', 'cron', 'pipeline', 'output'], rows)}\n\nNext fire times:\n${times.join('\n')}\n`;
}

interface ScheduleRun {
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
async function runSchedule(run: ScheduleRun): Promise<number> {
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

export function scheduleCli(ws: Workspace): Command {
  return defineCommand({
    name: 'schedule',
    summary: 'Runs pipelines on cron schedules (never two runs of a job at once, across processes), with run history.',
    options: {
      config: { type: 'string', accepts: 'a JSON or YAML file', description: 'The schedule: jobs with name, cron, pipeline, params, db, out, ...' },
      check: { type: 'boolean', default: false, description: "Validate the schedule and print each job's next five fire times, then exit" },
      db: DB_OPTION,
      ...METRICS_OPTIONS,
      shutdownTimeout: shutdownTimeoutOption('running jobs'),
      history: { type: 'boolean', default: true, description: "Record runs in the database's sluice_runs table (--no-history: do not)" },
      queueDb: { ...QUEUE_DB_OPTION, description: 'The job queue for jobs "via": "queue" (default: "queue" in the schedule, else $SLUICE_QUEUE_URL)' },
      logLevel: LOG_LEVEL_OPTION,
      ...DATABASE_TIMEOUT_OPTIONS,
    },
    async action({ options }) {
      if (options.config === undefined) throw new SluiceError('USAGE', 'Name the schedule: sluice schedule --config schedules.json (`--check` validates it).');
      const queueDb = options.queueDb as string | undefined;
      const config = loadSchedule(options.config as string, ws.pipelines, queueDb !== undefined || Boolean(process.env.SLUICE_QUEUE_URL));
      if (options.check) {
        const { Cron } = await import('croner');
        process.stdout.write(checkText(config, (job) => new Cron(job.cron, { timezone: job.timezone, paused: true }).nextRuns(5)));
        return 0;
      }
      const { createLogger } = await import('../core/logger.ts');
      return runSchedule({
        config,
        ws,
        db: options.db as string | undefined,
        logger: createLogger(options.logLevel as LogLevel),
        metricsPort: options.metricsPort as number | undefined,
        metricsHost: options.metricsHost as string,
        shutdownTimeoutMs: (options.shutdownTimeout as number) * 1000,
        history: options.history as boolean,
        queueDb,
        options: databaseOptions(options),
      });
    },
  });
}
