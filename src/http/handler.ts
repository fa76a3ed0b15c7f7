import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pipeline } from '../core/define.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { RunSummary } from '../core/metrics.ts';
import { type ParamSpecs, type ParamValues, type RunParams, parseParams } from '../core/params.ts';
import { type PipelineSet, pipelineNamed } from '../core/registry.ts';
import type { LiveRuns } from '../ops/live-runs.ts';
import { trackedRun } from '../ops/tracked-run.ts';
import type { EncoderSinkSpec } from '../core/types.ts';
import type { Database } from '../core/database.ts';
import { OUTPUT_HEADERS, acceptsGzip, datedFileName, httpOutput } from './http-output.ts';
import type { Limiter } from './limiter.ts';
import type { SluiceMetrics } from '../metrics/prometheus.ts';
import { abortResponse, publicError, sendJson } from './respond.ts';

/** Seconds a client is asked to wait when every export slot is taken. */
export const RETRY_AFTER_SECONDS = 5;

export interface PipelineHandlerOptions<P extends ParamSpecs = ParamSpecs> {
  /** One open database shared by every request (its pool), never a URL per request. */
  readonly database: Database;
  /** Where a pipeline given by name is found (`loadPipelines(dir)`); needed only for a name. */
  readonly pipelines?: PipelineSet | Promise<PipelineSet>;
  /**
   * Parameters this route fixes (`{ status: 'sold' }` for a route of sold tickets only): applied
   * to every request, and a query that names one of them is refused (400), never obeyed.
   */
  readonly params?: RunParams<P>;
  /** Compress when the client accepts gzip. Default: for text formats only (XLSX is already zipped). */
  readonly gzip?: boolean;
  /** The download's file name; default `<pipeline>-YYYY-MM-DD.<ext>` (UTC). */
  readonly fileName?: string | ((pipeline: Pipeline, now: Date) => string);
  readonly logger?: Logger;
  /** Bounds concurrent exports; beyond it the answer is 503 with Retry-After. */
  readonly limiter?: Limiter;
  readonly metrics?: SluiceMetrics;
  /** Give up on a client that takes no data for this long: its run aborts and frees its slot and connection (default 60 s; 0: never). */
  readonly sendTimeoutMs?: number;
  /**
   * Rows per batch when the request gives no `batchSize`. Smaller batches than the CLI's make
   * shorter synchronous stretches, which keeps other requests quick while several exports run.
   */
  readonly defaultBatchSize?: number;
  /** Record every download in the database's `sluice_runs` history (default true): who exported what, with which filters. */
  readonly history?: boolean;
  /** Who asks, for the history (default: the client's address). */
  readonly who?: (req: IncomingMessage) => string;
  /** The process's live runs, where `/api/runs` finds their progress. */
  readonly live?: LiveRuns;
  /** Readers per download of a file export (see runPipeline's `parallel`); default 1, since concurrent downloads already share the cores. */
  readonly parallel?: number;
}

/** `(req, res) => void`: usable as `app.get(path, handler)` in Express and in plain node:http. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Query parameters as the raw strings parseParams expects; a repeated name becomes an array (and is refused there). */
export function queryParams(url: string | undefined): Record<string, string | string[]> {
  // No prototype: `?__proto__=x` must become a parameter like any other (and be refused as unknown).
  const raw = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URL(url ?? '/', 'http://localhost').searchParams) {
    const previous = raw[name];
    raw[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return raw;
}

function encoderSink(pipeline: Pipeline): EncoderSinkSpec {
  if (pipeline.sink.type !== 'encoder') {
    throw new SluiceError('UNKNOWN_PIPELINE', `Pipeline "${pipeline.name}" writes to a database; it has no output to download.`);
  }
  return pipeline.sink;
}

function fileNameFor(option: PipelineHandlerOptions['fileName'], pipeline: Pipeline, sink: EncoderSinkSpec, now: Date): string {
  if (typeof option === 'string') return option;
  return option?.(pipeline, now) ?? datedFileName(pipeline.name, sink.format.extension, now);
}

/** The client left (or the socket died) before the response was complete. */
function clientGone(res: ServerResponse): boolean {
  return res.destroyed && !res.writableFinished;
}

/** One request and its response; its signal aborts the run when the client goes away. */
export class Exchange {
  readonly controller = new AbortController();
  readonly #onClose = () => {
    if (!this.res.writableFinished) this.controller.abort(new SluiceError('ABORTED', 'The client closed the connection.'));
  };

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    // `res` 'close' fires when the response is done or the connection dies; `req` 'close' also
    // fires once a GET's (empty) body is read, so it cannot tell a departed client.
    res.on('close', this.#onClose);
    if (clientGone(res) || req.socket.destroyed) this.#onClose();
  }

  dispose(): void {
    this.res.off('close', this.#onClose);
  }
}

/**
 * Turns a pipeline (or its name in `options.pipelines`) into a request handler that streams the
 * pipeline's output as a download.
 */
export function pipelineHandler<P extends ParamSpecs>(pipelineOrName: Pipeline<P>, options: PipelineHandlerOptions<P>): RequestHandler;
export function pipelineHandler(pipelineOrName: string, options: PipelineHandlerOptions): RequestHandler;
export function pipelineHandler(pipelineOrName: Pipeline | string, options: PipelineHandlerOptions): RequestHandler {
  const { pipelines } = options;
  if (typeof pipelineOrName === 'string' && pipelines === undefined) {
    throw new SluiceError('USAGE', `pipelineHandler("${pipelineOrName}") needs options.pipelines to find it by name (or pass the pipeline itself).`);
  }
  const resolve = typeof pipelineOrName === 'string' ? async () => pipelineNamed(await pipelines!, pipelineOrName) : () => Promise.resolve(pipelineOrName);
  const logger = options.logger ?? silentLogger;
  return (req, res) => {
    serveDownload(resolve, options, logger, req, res).catch((error: unknown) => {
      // Only reachable through a bug; the client must still get an answer.
      logger.error({ err: error }, 'export handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'The export failed (INTERNAL); see the server log.' });
      else abortResponse(res);
    });
  };
}

interface Accepted {
  readonly pipeline: Pipeline;
  readonly sink: EncoderSinkSpec;
  /** Validated: the route's fixed parameters and the query's. */
  readonly params: ParamValues;
}

/** The query's parameters over the route's defaults; a query naming a fixed parameter is refused. */
export function requestParams(req: IncomingMessage, options: Pick<PipelineHandlerOptions, 'params' | 'defaultBatchSize'>): Record<string, unknown> {
  const query = queryParams(req.url);
  const fixed = options.params ?? {};
  for (const name of Object.keys(query)) {
    if (Object.hasOwn(fixed, name)) throw new SluiceError('INVALID_PARAM', `Parameter "${name}" is fixed by this route; leave it out of the query.`);
  }
  const raw: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, query, fixed);
  if (options.defaultBatchSize !== undefined && raw.batchSize === undefined) raw.batchSize = options.defaultBatchSize;
  return raw;
}

/** The pipeline and its raw parameters, or undefined once the request has been answered (400/404/405). */
async function accept(resolve: () => Promise<Pipeline>, options: PipelineHandlerOptions, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<Accepted | undefined> {
  // Express routes HEAD to GET handlers: running a whole export to send no body would be waste.
  if (req.method !== 'GET') {
    sendJson(res, 405, { error: `Method ${req.method} not allowed; use GET.` }, { Allow: 'GET' });
    return undefined;
  }
  try {
    const pipeline = await resolve();
    const sink = encoderSink(pipeline);
    // Validated before the run, so that a bad request never takes an export slot.
    const params = parseParams(pipeline.allParams, requestParams(req, options));
    return { pipeline, sink, params };
  } catch (error) {
    answerError(res, toSluiceError(error), logger);
    return undefined;
  }
}

async function serveDownload(resolve: () => Promise<Pipeline>, options: PipelineHandlerOptions, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const accepted = await accept(resolve, options, logger, req, res);
  if (!accepted) return;
  const release = options.limiter ? options.limiter.tryAcquire() : () => undefined;
  if (!release) {
    sendJson(res, 503, { error: 'Too many exports are running; retry shortly.' }, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
    return;
  }
  try {
    await stream(accepted, options, logger, req, res);
  } finally {
    release();
  }
}

/** Runs the pipeline into the response; the run settles only once its connections are released. */
async function stream({ pipeline, sink, params }: Accepted, options: PipelineHandlerOptions, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gzipAllowed = options.gzip ?? sink.format.contentType.startsWith('text/');
  if (gzipAllowed) res.setHeader('Vary', 'Accept-Encoding');
  const now = new Date();
  const output = httpOutput(res, {
    format: sink.format,
    fileName: fileNameFor(options.fileName, pipeline, sink, now),
    gzip: gzipAllowed && acceptsGzip(req.headers['accept-encoding']),
    sendTimeoutMs: options.sendTimeoutMs,
  });
  const exchange = new Exchange(req, res);
  const log = logger.child({ pipeline: pipeline.name, url: req.url });
  options.metrics?.runStarted(pipeline.name);
  try {
    const run = { params, database: options.database, output, signal: exchange.controller.signal, logger: log, parallel: options.parallel };
    const who = options.who?.(req) ?? clientAddress(req);
    const summary = await trackedRun(pipeline, run, { trigger: 'http', who, history: options.history, live: options.live });
    options.metrics?.runEnded(pipeline.name, summary);
    log.info({ summary }, 'export finished');
  } catch (error) {
    const failure = toSluiceError(error);
    options.metrics?.runEnded(pipeline.name, failure.summary, failure.code);
    answerRunFailure(res, failure, log);
  } finally {
    exchange.dispose();
  }
}

export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown client';
}

function answerError(res: ServerResponse, error: SluiceError, logger: Logger): void {
  const { status, body } = publicError(error);
  if (status >= 500) logger.error({ err: error, code: error.code }, error.message);
  sendJson(res, status, body);
}

function answerRunFailure(res: ServerResponse, failure: SluiceError, log: Logger): void {
  const summary: RunSummary | undefined = failure.summary;
  if (failure.code === 'ABORTED' && clientGone(res)) {
    log.warn({ summary }, 'export aborted: the client closed the connection');
    return;
  }
  if (!res.headersSent) {
    // Nothing of the body went out: the output's headers go, and the client gets a JSON error.
    for (const header of OUTPUT_HEADERS) res.removeHeader(header);
    if (failure.httpStatus >= 500) log.error({ err: failure, summary }, `export failed before the response started: ${failure.message}`);
    if (!res.destroyed) answerError(res, failure, silentLogger);
    return;
  }
  log.error({ err: failure, summary }, `export failed after the response started; connection reset: ${failure.message}`);
  abortResponse(res, failure);
}
