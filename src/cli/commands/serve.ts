import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { openDatabase } from '../../db/open.ts';
import { resolveDatabaseUrl } from '../../db/url.ts';
import { generateToken } from '../../http/auth.ts';
import { DEFAULT_MAX_CONCURRENT_EXPORTS } from '../../http/limiter.ts';
import { createSluiceServer } from '../../http/server.ts';

export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  readonly db?: string;
  readonly maxConcurrent?: number;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * `sluice serve`: one database pool for every request; runs until SIGINT/SIGTERM, then stops
 * accepting, drops open downloads (their runs abort and release their connections) and closes
 * the pool.
 */
export async function serveCommand(options: ServeOptions): Promise<number> {
  const env = options.env ?? process.env;
  const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_EXPORTS;
  const port = options.port ?? 3000;
  if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) throw new SluiceError('USAGE', `--max-concurrent must be a positive integer, got ${options.maxConcurrent}.`);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new SluiceError('USAGE', `--port must be an integer from 0 to 65535, got ${options.port}.`);
  // Each export holds a connection for its whole run; counts and the pool's slack need a few more.
  const database = openDatabase(resolveDatabaseUrl(options.db, env), { maxConnections: maxConcurrent + 4 });
  let token = env.ADMIN_TOKEN;
  if (!token) {
    token = generateToken();
    process.stderr.write(`sluice serve: ADMIN_TOKEN is not set; this run's token is: ${token}\n`);
  }
  const { server } = createSluiceServer({ database, token, maxConcurrent, logger: options.logger });
  server.listen(port, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stderr.write(`sluice serve: listening on http://${host}:${address.port} (database ${database.label}, up to ${maxConcurrent} concurrent exports)\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  options.logger.info({ signal }, 'shutting down');
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
  await database.close();
  return 0;
}
