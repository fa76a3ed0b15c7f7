import type { LogLevel } from '../core/logger.ts';
import type { Workspace } from './apps.ts';
import { type Command, DATABASE_TIMEOUT_OPTIONS, DB_OPTION, LOG_LEVEL_OPTION, METRICS_OPTIONS, QUEUE_DB_OPTION, databaseOptions, defineCommand, shutdownTimeoutOption } from './command.ts';

export function workerCli(ws: Workspace): Command {
  return defineCommand({
    name: 'worker',
    summary: 'Runs pipeline jobs from the pg-boss queue (`sluice submit`, schedules with "via": "queue"), on any number of machines.',
    options: {
      queueDb: QUEUE_DB_OPTION,
      concurrency: { type: 'integer', min: 1, max: 64, default: 1, description: 'Runs this worker takes at once, and as many partitions of partitioned runs besides' },
      db: { ...DB_OPTION, description: 'Database of jobs that name none (default: $DATABASE_URL, else the app\'s)' },
      history: { type: 'boolean', default: true, description: "Record runs in their database's sluice_runs table (--no-history: do not)" },
      shutdownTimeout: shutdownTimeoutOption('running jobs'),
      ...METRICS_OPTIONS,
      logLevel: LOG_LEVEL_OPTION,
      ...DATABASE_TIMEOUT_OPTIONS,
    },
    async action({ options }) {
      const [{ createLogger }, { RunQueue, queueUrl }, { QueueWorker }, { SluiceMetrics }, { serveMetrics }, { LiveRuns }, { drainOnSignals }] = await Promise.all([
        import('../core/logger.ts'),
        import('../queue/run-queue.ts'),
        import('../queue/queue-worker.ts'),
        import('../metrics/prometheus.ts'),
        import('../metrics/metrics-server.ts'),
        import('../ops/live-runs.ts'),
        import('../ops/shutdown.ts'),
      ]);
      const logger = createLogger(options.logLevel as LogLevel);
      const queue = await RunQueue.open(queueUrl(options.queueDb as string | undefined));
      const metrics = new SluiceMetrics();
      const concurrency = options.concurrency as number;
      const worker = new QueueWorker({
        queue,
        pipelines: ws.pipelines,
        defaultDatabase: (options.db as string | undefined) ?? ws.defaultDatabase,
        databaseOptions: databaseOptions(options),
        concurrency,
        logger,
        metrics,
        history: options.history as boolean,
        live: new LiveRuns(),
      });
      const port = options.metricsPort as number | undefined;
      const server = port === undefined ? undefined : await serveMetrics(metrics, () => ({ runningJobs: worker.running }), { port, host: options.metricsHost as string, label: 'sluice worker' });
      await worker.start();
      process.stderr.write(`sluice worker: taking jobs (up to ${concurrency} runs and ${concurrency} partitions at once)\n`);
      await drainOnSignals(worker, (options.shutdownTimeout as number) * 1000, logger, 'job(s)');
      server?.close();
      return 0;
    },
  });
}
