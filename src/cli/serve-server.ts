import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.ts';
import { openDatabase } from '../db/open.ts';
import type { PostgresOptions } from '../db/postgres-options.ts';
import { resolveDatabaseUrl } from '../db/url.ts';
import type { Workspace } from './apps.ts';
import { checkTokenStrength, generateToken } from '../http/auth.ts';
import { DEFAULT_MAX_CONCURRENT_EXPORTS } from '../http/limiter.ts';
import { createSluiceServer, pingDatabase } from '../http/server.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, drainOnSignals } from '../ops/shutdown.ts';

export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  readonly db?: string;
  readonly maxConcurrent?: number;
  readonly sendTimeoutMs?: number;
  readonly metricsRequireToken?: boolean;
  /** The web console (default on), and whether it may run pipelines that write. */
  readonly console?: false | { readonly allowWrites: boolean };
  readonly history?: boolean;
  /** On SIGTERM/SIGINT, how long running downloads may take to finish before they are cut (default 60 s). */
  readonly shutdownTimeoutMs?: number;
  readonly database?: PostgresOptions;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** The pipelines, routes and default database of the apps served. */
  readonly workspace: Workspace;
}

/** ADMIN_TOKEN when set (refused if too short to resist guessing), else a fresh one printed once. */
function adminToken(env: NodeJS.ProcessEnv): string {
  const token = env.ADMIN_TOKEN;
  if (token !== undefined && token !== '') {
    checkTokenStrength(token, 'ADMIN_TOKEN');
    return token;
  }
  const generated = generateToken();
  process.stderr.write(`sluice serve: ADMIN_TOKEN is not set; this run's token is: ${generated}\n`);
  return generated;
}

/**
 * `sluice serve`: one database pool for every request; runs until SIGINT/SIGTERM, then drains:
 * stops accepting, lets running downloads finish up to the shutdown timeout, cuts the rest (their
 * runs abort and release their connections) and closes the pool.
 */
export async function serveCommand(options: ServeOptions): Promise<number> {
  const env = options.env ?? process.env;
  const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_EXPORTS;
  const token = adminToken(env);
  // Each export holds a connection for its whole run; counts and the pool's slack need a few more.
  const { workspace: ws } = options;
  // The backends write the text of COPY exports: concurrent downloads then cost the event loop only their bytes (bench/RESULTS.md, serve load).
  const database = openDatabase(resolveDatabaseUrl(options.db, ws.defaultDatabase, env), { maxConnections: maxConcurrent + 4, copyEncoding: 'server', ...options.database });
  const sluice = createSluiceServer({
    database,
    token,
    maxConcurrent,
    sendTimeoutMs: options.sendTimeoutMs,
    metricsRequireToken: options.metricsRequireToken,
    logger: options.logger,
    pipelines: ws.pipelines,
    routes: ws.routes,
    console: options.console,
    history: options.history,
  });
  const { server } = sluice;
  server.listen(options.port ?? 3000, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stderr.write(`sluice serve: listening on http://${host}:${address.port} (database ${database.label}, up to ${maxConcurrent} concurrent exports)\n`);
  const failure = await pingDatabase(database);
  if (failure !== undefined) options.logger.error({ database: database.label, failure }, `the database does not answer (${failure}); /readyz answers 503 until it does`);
  const drainable = {
    get running() {
      return sluice.metrics.activeRuns;
    },
    drain: (ms: number) => sluice.drain(ms),
  };
  await drainOnSignals(drainable, options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS, options.logger, 'download(s)');
  await database.close();
  return 0;
}
