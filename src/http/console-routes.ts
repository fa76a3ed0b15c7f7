import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../core/database.ts';
import type { Pipeline } from '../core/define.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { parseParams } from '../core/params.ts';
import type { PipelineSet } from '../core/registry.ts';
import type { LiveRuns } from '../ops/live-runs.ts';
import { trackedRun } from '../ops/tracked-run.ts';
import { ConsoleAssets } from './console-assets.ts';
import { DownloadTickets } from './download-tickets.ts';
import type { RequestHandler } from './handler.ts';
import { datedFileName } from './http-output.ts';
import { paramsRequest, pipelineRequest, readJsonBody } from './json-body.ts';
import type { Limiter } from './limiter.ts';
import { publicError, sendJson } from './respond.ts';

/** What the console's routes need of the server. */
export interface ConsoleHost {
  readonly database: Database;
  readonly logger: Logger;
  readonly live: LiveRuns;
  readonly limiter: Limiter;
  pipelines(): Promise<PipelineSet>;
  /** The server's download handler of a pipeline (the one `/api/pipelines/<name>/output` uses). */
  handler(name: string): Promise<RequestHandler | undefined>;
  who(req: IncomingMessage): string;
}

export interface ConsoleOptions {
  /** Pipelines that write to the database may be run from the page (after a dry run where they have one). */
  readonly allowWrites?: boolean;
}

const RUN_ROUTE = /^\/api\/pipelines\/([\w.-]+)\/run$/;
const TICKET_ROUTE = /^\/download\/([\w-]{32})$/;

/**
 * The web console: its page and files, download tickets (`POST /api/downloads`, then the
 * browser follows `/download/<ticket>`), and, when allowed, runs of pipelines that write to
 * the database (`POST /api/pipelines/<name>/run`).
 */
export class ConsoleRoutes {
  readonly #assets = new ConsoleAssets();
  readonly #tickets = new DownloadTickets();

  constructor(
    readonly host: ConsoleHost,
    readonly options: ConsoleOptions = {},
  ) {}

  /** Routes outside `/api` (no token: the page signs in itself; a ticket is its own credential). */
  async public(path: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const ticket = TICKET_ROUTE.exec(path)?.[1];
    if (ticket !== undefined) {
      await this.#redeem(ticket, req, res);
      return true;
    }
    if (path !== '/' && path !== '/index.html' && !path.startsWith('/console/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: `Method ${req.method} not allowed; use GET.` }, { Allow: 'GET' });
      return true;
    }
    return this.#assets.serve(path, url.searchParams, res);
  }

  /** Routes under `/api`, after the token was checked. */
  async api(path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const run = RUN_ROUTE.exec(path)?.[1];
    if (path === '/api/console' && req.method === 'GET') sendJson(res, 200, { allowWrites: this.options.allowWrites === true, version: this.#assets.version });
    else if (path === '/api/downloads' && req.method === 'POST') await this.#answer(res, () => this.#issue(req));
    else if (run !== undefined && req.method === 'POST') await this.#answer(res, () => this.#run(run, req));
    else return false;
    return true;
  }

  async #answer(res: ServerResponse, work: () => Promise<{ status: number; body: unknown }>): Promise<void> {
    try {
      const { status, body } = await work();
      sendJson(res, status, body);
    } catch (error) {
      const failure = toSluiceError(error);
      const { status, body } = publicError(failure);
      if (status >= 500) this.host.logger.error({ err: failure }, `console request failed: ${failure.message}`);
      sendJson(res, status, failure.summary ? { ...body, summary: failure.summary } : body);
    }
  }

  async #pipeline(name: string): Promise<Pipeline> {
    const pipeline = (await this.host.pipelines()).get(name);
    if (!pipeline) throw new SluiceError('UNKNOWN_PIPELINE', `Unknown pipeline "${name}".`);
    return pipeline;
  }

  /** Validates the form (the same specs and error text as the CLI) and hands out a one-time link. */
  async #issue(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const request = pipelineRequest(await readJsonBody(req));
    const pipeline = await this.#pipeline(request.pipeline);
    if (pipeline.sink.type !== 'encoder') throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" writes to the database; it has no file to download.`);
    parseParams(pipeline.allParams, request.params);
    const id = this.#tickets.issue({ pipeline, params: request.params, who: this.host.who(req) });
    return { status: 201, body: { url: `/download/${id}`, fileName: datedFileName(pipeline.name, pipeline.sink.format.extension, new Date()) } };
  }

  /** The ticket's download, through the pipeline's own handler: the same checks, limits, history and errors. */
  async #redeem(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ticket = this.#tickets.redeem(id);
    if (!ticket || req.method !== 'GET') return sendJson(res, 404, { error: 'This download link was used or has expired: start the download again from the console.' });
    const handler = await this.host.handler(ticket.pipeline.name);
    if (!handler) return sendJson(res, 404, { error: `Pipeline "${ticket.pipeline.name}" is no longer installed.` });
    const query = new URLSearchParams(Object.entries(ticket.params).filter(([, value]) => value !== undefined && value !== null).map(([name, value]) => [name, String(value)]));
    req.url = `/download?${query}`;
    handler(req, res);
  }

  /** Runs a pipeline that writes to the database and answers its summary; only when the server allows it. */
  async #run(name: string, req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    if (!this.options.allowWrites) throw new SluiceError('USAGE', 'This server does not run pipelines that write to the database from the console (start it with --console-writes).');
    const given = paramsRequest(await readJsonBody(req));
    const pipeline = await this.#pipeline(name);
    if (pipeline.sink.type !== 'writer') throw new SluiceError('USAGE', `Pipeline "${name}" produces a file: download it instead.`);
    const params = parseParams(pipeline.allParams, given);
    const release = this.host.limiter.tryAcquire();
    if (!release) return { status: 503, body: { error: 'Too many runs are going; retry shortly.' } };
    try {
      const summary = await trackedRun(pipeline, { database: this.host.database, params, logger: this.host.logger.child({ pipeline: name }) }, { trigger: 'http', who: this.host.who(req), live: this.host.live });
      return { status: 200, body: { summary } };
    } finally {
      release();
    }
  }
}
