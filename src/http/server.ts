import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Pipeline } from '../core/define.ts';
import { describePipeline } from '../core/describe.ts';
import { toSluiceError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { loadPipelines } from '../core/registry.ts';
import type { Database } from '../db/database.ts';
import { checkBearer } from './auth.ts';
import { type RequestHandler, pipelineHandler } from './handler.ts';
import { type Limiter, createLimiter } from './limiter.ts';
import { PROMETHEUS_CONTENT_TYPE, ServerMetrics } from './prometheus.ts';
import { publicError, sendJson } from './respond.ts';

/** The raffle app's admin download routes and the pipeline each runs. */
export const ADMIN_ROUTES: Readonly<Record<string, string>> = {
  '/api/admin/tickets/number-barcode': 'number-barcode',
  '/api/admin/tickets/export-all-barcodes': 'export-all-barcodes',
  '/api/admin/tickets/export-csv': 'export-csv',
  '/api/admin/tickets/export': 'export-xlsx',
};

export interface SluiceServerOptions {
  /** Shared by every request: one pool for the whole server. */
  readonly database: Database;
  /** The bearer token `/api/admin/*` and `/api/pipelines*` require. */
  readonly token: string;
  readonly maxConcurrent?: number;
  /** Rows per batch for requests that give no `batchSize` (default 500; see the handler option). */
  readonly defaultBatchSize?: number;
  readonly logger?: Logger;
  /** Defaults to the pipelines in `pipelines/`. */
  readonly pipelines?: () => Promise<ReadonlyMap<string, Pipeline>>;
}

export interface SluiceServer {
  readonly server: Server;
  readonly metrics: ServerMetrics;
  readonly limiter: Limiter;
}

/**
 * Measured with bench/serve-load.ts (8 downloads of 1M tickets, 2 cores): batches of 500
 * halve /healthz p50/p99 against the CLI's 1000 at the same total throughput.
 */
export const SERVER_BATCH_SIZE = 500;

const OUTPUT_ROUTE = /^\/api\/pipelines\/([^/]+)\/output$/;

/** Routes requests; every export goes through `pipelineHandler` with the shared limiter and metrics. */
class Router {
  readonly metrics = new ServerMetrics();
  readonly limiter: Limiter;
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #logger: Logger;

  constructor(readonly options: SluiceServerOptions) {
    if (!options.token) throw new RangeError('the server needs a non-empty token');
    this.limiter = createLimiter(options.maxConcurrent);
    this.#logger = options.logger ?? silentLogger;
  }

  #pipelines(): Promise<ReadonlyMap<string, Pipeline>> {
    return (this.options.pipelines ?? loadPipelines)();
  }

  /** One handler per pipeline, created on first use; undefined (404) for an unknown name. */
  async #handler(name: string): Promise<RequestHandler | undefined> {
    let handler = this.#handlers.get(name);
    if (handler) return handler;
    const pipeline = (await this.#pipelines()).get(name);
    if (!pipeline) return undefined;
    handler = pipelineHandler(pipeline, {
      database: this.options.database,
      logger: this.#logger,
      limiter: this.limiter,
      metrics: this.metrics,
      defaultBatchSize: this.options.defaultBatchSize ?? SERVER_BATCH_SIZE,
    });
    this.#handlers.set(name, handler);
    return handler;
  }

  async #download(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const handler = await this.#handler(name);
    if (!handler) return sendJson(res, 404, { error: `Unknown pipeline "${name}" (it is not installed on this server).` });
    handler(req, res);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') {
      if (this.#only(req, res)) sendJson(res, 200, { status: 'ok', activeExports: this.metrics.activeExports });
      return;
    }
    if (path === '/metrics') {
      if (this.#only(req, res)) this.#sendMetrics(res);
      return;
    }
    if (!path.startsWith('/api/admin/') && path !== '/api/pipelines' && !path.startsWith('/api/pipelines/')) return sendJson(res, 404, { error: 'Not found' });
    if (!checkBearer(req, res, this.options.token)) return;
    const admin = ADMIN_ROUTES[path];
    const output = OUTPUT_ROUTE.exec(path);
    if (admin === undefined && path !== '/api/pipelines' && !output) return sendJson(res, 404, { error: 'Not found' });
    if (!this.#only(req, res)) return;
    if (admin !== undefined) return this.#download(admin, req, res);
    if (output) return this.#output(decodeURIComponent(output[1]!), req, res);
    const pipelines = await this.#pipelines();
    sendJson(res, 200, [...pipelines.values()].map(describePipeline));
  }

  /** Every route is GET only. */
  #only(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method === 'GET') return true;
    sendJson(res, 405, { error: `Method ${req.method} not allowed; use GET.` }, { Allow: 'GET' });
    return false;
  }

  async #output(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pipeline = (await this.#pipelines()).get(name);
    if (pipeline?.sink.type === 'writer') return sendJson(res, 404, { error: `Pipeline "${name}" writes to a database; it has no output to download.` });
    return this.#download(name, req, res);
  }

  #sendMetrics(res: ServerResponse): void {
    const text = this.metrics.render();
    res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }
}

/**
 * The app's admin endpoints on plain node:http: the download routes, the pipeline catalogue,
 * `/healthz` and `/metrics`. Not listening yet: call `server.listen(port, host)`.
 */
export function createSluiceServer(options: SluiceServerOptions): SluiceServer {
  const router = new Router(options);
  const logger = options.logger ?? silentLogger;
  const server = createServer((req, res) => {
    router.handle(req, res).catch((error: unknown) => {
      const failure = toSluiceError(error);
      logger.error({ err: failure }, `request failed: ${failure.message}`);
      if (res.headersSent) return void res.destroy();
      const { status, body } = publicError(failure);
      sendJson(res, status, body);
    });
  });
  return { server, metrics: router.metrics, limiter: router.limiter };
}
