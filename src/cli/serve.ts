import type { LogLevel } from '../core/logger.ts';
import type { Workspace } from './apps.ts';
import { type Command, DATABASE_TIMEOUT_OPTIONS, DB_OPTION, LOG_LEVEL_OPTION, databaseOptions, defineCommand, shutdownTimeoutOption } from './command.ts';

export function serveCli(ws: Workspace): Command {
  return defineCommand({
  name: 'serve',
  summary: 'Serves the admin export endpoints over HTTP (token from $ADMIN_TOKEN, at least 16 characters, else generated and printed once).',
  options: {
    port: { type: 'integer', min: 0, max: 65_535, default: 3000, description: 'Port to listen on (0: any free port)' },
    host: { type: 'string', default: '127.0.0.1', description: 'Address to listen on' },
    db: DB_OPTION,
    maxConcurrent: { type: 'integer', min: 1, max: 1000, default: 4, description: 'Exports running at once; more get 503 with Retry-After' },
    sendTimeout: { type: 'integer', min: 0, max: 86_400, default: 60, description: 'Seconds a client may take no data before its download is given up (0: never)' },
    metricsToken: { type: 'boolean', default: false, description: '/metrics requires the admin token too (default: open, for a local scraper)' },
    console: { type: 'boolean', default: true, description: 'Serve the web console at / (--no-console: only the API)' },
    consoleWrites: { type: 'boolean', default: false, description: 'Let the console run pipelines that write to the database (after a dry run, with a confirmation)' },
    history: { type: 'boolean', default: true, description: "Record downloads in the database's sluice_runs table (--no-history: do not)" },
    shutdownTimeout: shutdownTimeoutOption('running downloads'),
    logLevel: LOG_LEVEL_OPTION,
    ...DATABASE_TIMEOUT_OPTIONS,
  },
  async action({ options }) {
    // The HTTP server's modules load only for `serve`: every other command starts faster.
    const [{ createLogger }, { serveCommand }] = await Promise.all([import('../core/logger.ts'), import('./serve-server.ts')]);
    return serveCommand({
      port: options.port as number,
      host: options.host as string,
      db: options.db as string | undefined,
      maxConcurrent: options.maxConcurrent as number,
      sendTimeoutMs: (options.sendTimeout as number) * 1000,
      metricsRequireToken: options.metricsToken as boolean,
      console: options.console ? { allowWrites: options.consoleWrites as boolean } : false,
      history: options.history as boolean,
      shutdownTimeoutMs: (options.shutdownTimeout as number) * 1000,
      database: databaseOptions(options),
      logger: createLogger(options.logLevel as LogLevel),
      workspace: ws,
    });
  },
  });
}
