import type { LogLevel } from '../core/logger.ts';
import { SluiceError } from '../core/errors.ts';
import type { Job, ScheduleConfig } from '../schedule/config.ts';
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
      // Loaded here, not at start-up: YAML, croner and prom-client cost every other command ~0.1 s.
      const { loadSchedule } = await import('../schedule/config.ts');
      const config = loadSchedule(options.config as string, ws.pipelines, queueDb !== undefined || Boolean(process.env.SLUICE_QUEUE_URL));
      if (options.check) {
        const { Cron } = await import('croner');
        process.stdout.write(checkText(config, (job) => new Cron(job.cron, { timezone: job.timezone, paused: true }).nextRuns(5)));
        return 0;
      }
      const [{ createLogger }, { runSchedule }] = await Promise.all([import('../core/logger.ts'), import('./schedule-run.ts')]);
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
