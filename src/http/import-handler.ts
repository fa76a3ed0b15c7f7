import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, pipeline as pipe } from 'node:stream';
import type { Pipeline } from '../core/define.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import type { InputFormat } from '../core/input.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { parseParams } from '../core/params.ts';
import type { Rejection } from '../core/rejects.ts';
import { pipelineNamed } from '../core/registry.ts';
import { trackedRun } from '../ops/tracked-run.ts';
import { Exchange, type PipelineHandlerOptions, RETRY_AFTER_SECONDS, type RequestHandler, clientAddress, requestParams } from './handler.ts';
import { publicError, sendJson } from './respond.ts';
import { groupDigits } from '../core/group-digits.ts';

/** A request body's Content-Type (without parameters) and the input format it names. */
const CONTENT_TYPES: Readonly<Record<string, InputFormat>> = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
};

/** The largest body an import takes by default: 1 GiB, several million tickets of CSV. */
export const DEFAULT_MAX_IMPORT_BYTES = 1 << 30;
/** Rejections an answer lists (all of them are counted). */
const LISTED_REJECTIONS = 100;

export interface ImportHandlerOptions extends Omit<PipelineHandlerOptions, 'gzip' | 'fileName' | 'sendTimeoutMs'> {
  /** Bodies larger than this are refused: 413 (default 1 GiB). */
  readonly maxBodyBytes?: number;
  /** Stop an import once more rows than this are rejected (409); default: never. */
  readonly maxRejects?: number;
}

/** The body as it streams in, failing with INPUT_TOO_LARGE past `max` bytes. */
function limitedBody(req: IncomingMessage, max: number): Transform {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) return callback(new SluiceError('INPUT_TOO_LARGE', `The request body is larger than the ${groupDigits(max)} bytes this server takes.`));
      callback(null, chunk);
    },
  });
  // pipeline owns both: a body that breaks off fails the counter, a reader that stops ends the body.
  pipe(req, counter, () => undefined);
  return counter;
}

/** Answers a request before its body is read: the body is not wanted, so the connection closes after the answer. */
function refuse(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, { ...headers, Connection: 'close' });
}

function formatOf(req: IncomingMessage): InputFormat | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return CONTENT_TYPES[type];
}

/**
 * Turns an import pipeline (one whose source reads the run's input) into a handler that streams
 * the request body through it: `POST` with a CSV, NDJSON or XLSX body (by Content-Type) and the
 * pipeline's parameters in the query; the answer is a JSON summary with the first rejections.
 */
export function importHandler(pipelineOrName: Pipeline | string, options: ImportHandlerOptions): RequestHandler {
  const logger = options.logger ?? silentLogger;
  const resolve = typeof pipelineOrName === 'string' ? async () => pipelineNamed(await options.pipelines!, pipelineOrName) : () => Promise.resolve(pipelineOrName);
  return (req, res) => {
    serveImport(resolve, options, logger, req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'import handler failed');
      if (!res.headersSent) refuse(res, 500, { error: 'The import failed (INTERNAL); see the server log.' });
    });
  };
}

async function serveImport(resolve: () => Promise<Pipeline>, options: ImportHandlerOptions, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') return refuse(res, 405, { error: `Method ${req.method} not allowed; POST the file.` }, { Allow: 'POST' });
  let pipeline: Pipeline;
  let params;
  try {
    pipeline = await resolve();
    if (!pipeline.source.readsInput) throw new SluiceError('UNKNOWN_PIPELINE', `Pipeline "${pipeline.name}" reads no file; it cannot be imported into.`);
    params = parseParams(pipeline.allParams, requestParams(req, options));
  } catch (error) {
    const { status, body } = publicError(toSluiceError(error));
    return refuse(res, status, body);
  }
  const format = formatOf(req);
  if (!format) return refuse(res, 415, { error: `Send the file as text/csv, application/x-ndjson or ${Object.keys(CONTENT_TYPES).at(-1)} (Content-Type).` });
  const max = options.maxBodyBytes ?? DEFAULT_MAX_IMPORT_BYTES;
  if (Number(req.headers['content-length'] ?? 0) > max) return refuse(res, 413, { error: `The request body is larger than the ${groupDigits(max)} bytes this server takes.` });
  const release = options.limiter ? options.limiter.tryAcquire() : () => undefined;
  if (!release) return refuse(res, 503, { error: 'Too many runs are going; retry shortly.' }, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  const exchange = new Exchange(req, res);
  const log = logger.child({ pipeline: pipeline.name, url: req.url });
  const rejections: Rejection[] = [];
  options.metrics?.runStarted(pipeline.name);
  try {
    const run = {
      params,
      database: options.database,
      input: { description: 'the request body', format, open: () => limitedBody(req, max) },
      rejects: { max: options.maxRejects, onReject: (r: Rejection) => void (rejections.length < LISTED_REJECTIONS && rejections.push(r)) },
      signal: exchange.controller.signal,
      logger: log,
    };
    const summary = await trackedRun(pipeline, run, { trigger: 'http', who: options.who?.(req) ?? clientAddress(req), history: options.history, live: options.live });
    options.metrics?.runEnded(pipeline.name, summary);
    log.info({ summary }, 'import finished');
    sendJson(res, 200, { status: 'succeeded', rows: summary.rows, ...summary.notes, rejected: summary.warnings.rejected ?? 0, rejections, durationMs: summary.durationMs });
  } catch (error) {
    const failure = toSluiceError(error);
    options.metrics?.runEnded(pipeline.name, failure.summary, failure.code);
    if (res.destroyed) return void log.warn({ summary: failure.summary }, 'import aborted: the client closed the connection');
    // A body the import cannot read is the client's to fix: 400 with the parser's words (its line).
    const { status, body } = failure.code === 'INPUT_FAILED' ? { status: 400, body: { error: failure.message } } : publicError(failure);
    if (status >= 500) log.error({ err: failure, summary: failure.summary }, `import failed: ${failure.message}`);
    refuse(res, status, { ...body, ...failure.summary?.notes, rejections });
  } finally {
    exchange.dispose();
    release();
  }
}
