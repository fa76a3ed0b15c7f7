import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { describePipeline } from '../core/describe.ts';
import type { Pipeline } from '../core/define.ts';
import { toSluiceError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { PipelineSet } from '../core/registry.ts';
import type { Database } from '../core/database.ts';
import { type BearerCheck, bearerCheck } from './auth.ts';
import { type RequestHandler, pipelineHandler, queryParams } from './handler.ts';
import { LiveRuns } from '../ops/live-runs.ts';
import { listRuns, showRun } from './runs-api.ts';
import { type ConsoleHost, type ConsoleOptions, ConsoleRoutes } from './console-routes.ts';
import { type Limiter, createLimiter } from './limiter.ts';
import { SluiceMetrics } from '../metrics/prometheus.ts';
import { abortResponse, publicError, sendJson } from './respond.ts';
import { HttpDrain } from './drain.ts';
import { importHandler } from './import-handler.ts';
import type { DrainResult } from '../ops/shutdown.ts';

export interface SluiceServerOptions {
  /** Shared by every request: one pool for the whole server. */
  readonly database: Database;
  /** The bearer token `/api/admin/*` and `/api/pipelines*` require (at least 16 characters). */
  readonly token: string;
  readonly maxConcurrent?: number;
  /** Rows per batch for requests that give no `batchSize` (default 500; see the handler option). */
  readonly defaultBatchSize?: number;
  /** Give up on a client that takes no data for this long (default 60 s; see the handler option). */
  readonly sendTimeoutMs?: number;
  /** `/metrics` requires the token too (default: open, for a scraper on a private network). */
  readonly metricsRequireToken?: boolean;
  readonly logger?: Logger;
  /** The pipelines served at `/api/pipelines/<name>/output` and listed at `/api/pipelines` (`loadPipelines(dir)`). */
  readonly pipelines: PipelineSet | (() => Promise<PipelineSet>);
  /** Download routes of the app (`/api/admin/...`: path to pipeline name), behind the token like every `/api` route. */
  readonly routes?: Readonly<Record<string, string>>;
  /** Record every download in the database's `sluice_runs` (default true; `/api/runs` lists them). */
  readonly history?: boolean;
  /** The web console at `/` (default on; `false` turns it off). */
  readonly console?: boolean | ConsoleOptions;
  /** The largest request body an import takes (default 1 GiB); larger ones get 413. */
  readonly maxImportBytes?: number;
}

export interface SluiceServer {
  readonly server: Server;
  readonly metrics: SluiceMetrics;
  readonly limiter: Limiter;
  /**
   * Graceful stop (for SIGTERM): stops accepting (new clients are refused, so a load balancer moves
   * them to another instance; a request still arriving on a kept-alive connection gets 503), lets running downloads
   * finish for up to `timeoutMs`, then cuts them (their runs abort cleanly) and resolves once every
   * run has ended. Called again with 0 during a drain: cut now. Close the database after it.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

/** Who asks, for the run history: every `/api` request carries the admin token. */
function whoAsks(req: IncomingMessage): string {
  return `admin token from ${req.socket.remoteAddress ?? 'an unknown address'}`;
}

/**
 * Measured with bench/serve-load.ts (8 downloads of 1M tickets, 2 cores): batches of 500
 * halve /healthz p50/p99 against the CLI's 1000 at the same total throughput.
 */
export const SERVER_BATCH_SIZE = 500;

/** How long `/readyz` waits for the database's answer. */
export const READY_TIMEOUT_MS = 2000;

const OUTPUT_ROUTE = /^\/api\/pipelines\/([^/]+)\/output$/;
const INPUT_ROUTE = /^\/api\/pipelines\/([^/]+)\/input$/;
const RUN_ROUTE = /^\/api\/runs\/([^/]+)$/;

/** The database answers a trivial query within READY_TIMEOUT_MS; the failure's message otherwise. */
export async function pingDatabase(database: Database, timeoutMs = READY_TIMEOUT_MS): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs)));
  const ping = database.query({ text: 'SELECT 1', values: [] }).then(
    () => undefined,
    (error: unknown) => toSluiceError(error).message,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return '';
  }
}

/** Routes requests; every export goes through `pipelineHandler` with the shared limiter and metrics. */
class Router {
  readonly metrics = new SluiceMetrics();
  readonly limiter: Limiter;
  /** This server's runs as they go: `/api/runs` shows their progress live. */
  readonly live = new LiveRuns();
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #importers = new Map<string, RequestHandler>();
  readonly #logger: Logger;
  readonly #authorized: BearerCheck;

  readonly #console: ConsoleRoutes | undefined;

  constructor(readonly options: SluiceServerOptions) {
    this.#logger = options.logger ?? silentLogger;
    this.#authorized = bearerCheck(options.token, { logger: this.#logger });
    this.limiter = createLimiter(options.maxConcurrent);
    this.#console = options.console === false ? undefined : new ConsoleRoutes(this.#consoleHost(), options.console === true ? {} : options.console);
  }

  #consoleHost(): ConsoleHost {
    return {
      database: this.options.database,
      logger: this.#logger,
      live: this.live,
      limiter: this.limiter,
      pipelines: () => this.#pipelines(),
      handler: (name) => this.#handler(name),
      who: whoAsks,
    };
  }

  #pipelines(): Promise<PipelineSet> {
    const { pipelines } = this.options;
    return typeof pipelines === 'function' ? pipelines() : Promise.resolve(pipelines);
  }

  /** What every handler of this server shares: the pool, the slots, the metrics, the history. */
  #handlerOptions() {
    return {
      database: this.options.database,
      logger: this.#logger,
      limiter: this.limiter,
      metrics: this.metrics,
      defaultBatchSize: this.options.defaultBatchSize ?? SERVER_BATCH_SIZE,
      history: this.options.history,
      live: this.live,
      who: whoAsks,
    };
  }

  /** A pipeline's handler from `cache`, made on first use by `make`; undefined (404) when the pipeline is unknown or `make` declines it. */
  async #cached(cache: Map<string, RequestHandler>, name: string, make: (pipeline: Pipeline) => RequestHandler | undefined): Promise<RequestHandler | undefined> {
    const known = cache.get(name);
    if (known) return known;
    const pipeline = (await this.#pipelines()).get(name);
    const handler = pipeline && make(pipeline);
    if (handler) cache.set(name, handler);
    return handler;
  }

  /** One download handler per pipeline. */
  #handler(name: string): Promise<RequestHandler | undefined> {
    return this.#cached(this.#handlers, name, (pipeline) => pipelineHandler(pipeline, { ...this.#handlerOptions(), sendTimeoutMs: this.options.sendTimeoutMs }));
  }

  /** One import handler per pipeline whose source reads the request body. */
  #importer(name: string): Promise<RequestHandler | undefined> {
    return this.#cached(this.#importers, name, (pipeline) => (pipeline.source.readsInput ? importHandler(pipeline, { ...this.#handlerOptions(), maxBodyBytes: this.options.maxImportBytes }) : undefined));
  }

  async #download(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const handler = await this.#handler(name);
    if (!handler) return sendJson(res, 404, { error: `Unknown pipeline "${name}" (it is not installed on this server).` });
    handler(req, res);
  }

  /** Set when the server drains: a request that still arrives on a kept-alive connection is turned away. */
  draining = false;

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (this.draining && path !== '/healthz' && path !== '/metrics') return this.#shuttingDown(path, res);
    if (path === '/healthz') {
      if (this.#only(req, res)) sendJson(res, 200, { status: 'ok', activeExports: this.metrics.activeRuns });
      return;
    }
    if (path === '/readyz') {
      if (this.#only(req, res)) await this.#ready(res);
      return;
    }
    if (path === '/metrics') {
      if (this.#only(req, res) && (!this.options.metricsRequireToken || this.#authorized(req, res))) this.#sendMetrics(res);
      return;
    }
    if (!path.startsWith('/api/')) {
      if (await this.#console?.public(path, url, req, res)) return;
      return sendJson(res, 404, { error: 'Not found' });
    }
    if (!this.#authorized(req, res)) return;
    if (await this.#console?.api(path, req, res)) return;
    const routes = this.options.routes ?? {};
    const admin = Object.hasOwn(routes, path) ? routes[path] : undefined;
    const output = OUTPUT_ROUTE.exec(path);
    const run = RUN_ROUTE.exec(path);
    const input = INPUT_ROUTE.exec(path);
    if (admin === undefined && path !== '/api/pipelines' && path !== '/api/runs' && !output && !run && !input) return sendJson(res, 404, { error: 'Not found' });
    const importer = await this.#importer(admin ?? (input ? decodeURIComponentSafe(input[1]!) : ''));
    if (importer) return importer(req, res);
    if (input) return sendJson(res, 404, { error: `No import pipeline "${input[1]}" on this server.` });
    if (!this.#only(req, res)) return;
    if (admin !== undefined) return this.#download(admin, req, res);
    if (output) return this.#output(output[1]!, req, res);
    if (path === '/api/runs' || run) return this.#runs(run?.[1], req, res);
    const pipelines = await this.#pipelines();
    sendJson(res, 200, [...pipelines.values()].map(describePipeline));
  }

  /** The run history, with live progress for this server's running runs. */
  async #runs(encodedId: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { database } = this.options;
    try {
      if (encodedId === undefined) return sendJson(res, 200, await listRuns(database, this.live, queryParams(req.url)));
      const id = /^[\w.-]+$/.test(encodedId) ? encodedId : undefined;
      const run = id === undefined ? undefined : await showRun(database, this.live, id);
      return run ? sendJson(res, 200, run) : sendJson(res, 404, { error: `No run "${encodedId}" in the history.` });
    } catch (error) {
      const failure = toSluiceError(error);
      const { status, body } = publicError(failure);
      if (status >= 500) this.#logger.error({ err: failure }, `run history request failed: ${failure.message}`);
      sendJson(res, status, body);
    }
  }

  /** Every route is GET only. */
  #only(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method === 'GET') return true;
    sendJson(res, 405, { error: `Method ${req.method} not allowed; use GET.` }, { Allow: 'GET' });
    return false;
  }

  /** While draining, load balancers see /readyz fail and clients are told to go elsewhere. */
  #shuttingDown(path: string, res: ServerResponse): void {
    const headers = { 'Retry-After': '5', Connection: 'close' };
    if (path === '/readyz') return sendJson(res, 503, { status: 'draining', exports: { active: this.limiter.active, max: this.limiter.max } }, headers);
    sendJson(res, 503, { error: 'The server is shutting down; try again in a moment.' }, headers);
  }

  /** Readiness: the database answers, and how many export slots are taken. */
  async #ready(res: ServerResponse): Promise<void> {
    const failure = await pingDatabase(this.options.database);
    const exports = { active: this.limiter.active, max: this.limiter.max };
    if (failure === undefined) return sendJson(res, 200, { status: 'ready', database: 'ok', exports });
    this.#logger.warn({ database: this.options.database.label, failure }, 'not ready: the database does not answer');
    sendJson(res, 503, { status: 'unavailable', database: 'unreachable', exports }, { 'Retry-After': '5' });
  }

  async #output(encoded: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let name: string;
    try {
      name = decodeURIComponent(encoded);
    } catch {
      return sendJson(res, 400, { error: 'Malformed pipeline name in the URL (a broken %-escape).' });
    }
    const pipeline = (await this.#pipelines()).get(name);
    if (pipeline?.sink.type === 'writer') return sendJson(res, 404, { error: `Pipeline "${name}" writes to a database; it has no output to download.` });
    return this.#download(name, req, res);
  }

  async #sendMetrics(res: ServerResponse): Promise<void> {
    const text = await this.metrics.render();
    res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }
}

/**
 * The app's admin endpoints on plain node:http: the download routes, the pipeline catalogue,
 * `/healthz` (liveness), `/readyz` (the database answers) and `/metrics`. Not listening yet:
 * call `server.listen(port, host)`.
 */
export function createSluiceServer(options: SluiceServerOptions): SluiceServer {
  const router = new Router(options);
  const logger = options.logger ?? silentLogger;
  const server = createServer((req, res) => {
    drain.track(res);
    router.handle(req, res).catch((error: unknown) => {
      const failure = toSluiceError(error);
      logger.error({ err: failure }, `request failed: ${failure.message}`);
      if (res.headersSent) return abortResponse(res);
      const { status, body } = publicError(failure);
      sendJson(res, status, body);
    });
  });
  const drain = new HttpDrain(server, () => router.metrics.activeRuns);
  return {
    server,
    metrics: router.metrics,
    limiter: router.limiter,
    drain(timeoutMs) {
      router.draining = true;
      return drain.drain(timeoutMs);
    },
  };
}
