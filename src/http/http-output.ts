import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { SluiceError } from '../core/errors.ts';
import type { Output } from '../core/output.ts';
import type { OutputFormat } from '../core/types.ts';
import { abortResponse } from './respond.ts';

/** Whether an `Accept-Encoding` header admits gzip (`gzip`, `x-gzip` or `*`, with q > 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding = '', ...parameters] = part.trim().toLowerCase().split(';');
    if (!['gzip', 'x-gzip', '*'].includes(coding.trim())) return false;
    const q = parameters.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return q === undefined || Number(q) > 0;
  });
}

/** `<name>-YYYY-MM-DD.<ext>` (UTC date), safe inside a quoted header parameter. */
export function datedFileName(name: string, extension: string, now: Date = new Date()): string {
  return safeFileName(`${name}-${now.toISOString().slice(0, 10)}.${extension}`);
}

export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

const clientGone = () => new SluiceError('ABORTED', 'The client closed the connection.');

/** A client that takes no data for this long is given up on (its run aborts and frees what it holds). */
export const DEFAULT_SEND_TIMEOUT_MS = 60_000;

/**
 * Writes into a ServerResponse with its backpressure: the run waits for 'drain', so a slow
 * client slows the database read instead of filling memory. A client that stops reading
 * altogether (its socket open) would hold the run, its export slot and its database connection
 * forever: after `sendTimeoutMs` without a drain the run fails with TIMEOUT instead.
 */
class ResponseWriter extends Writable {
  readonly #res: ServerResponse;
  readonly #sendTimeoutMs: number;

  constructor(res: ServerResponse, sendTimeoutMs: number) {
    super({ highWaterMark: 64 * 1024 });
    this.#res = res;
    this.#sendTimeoutMs = sendTimeoutMs;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const res = this.#res;
    if (res.destroyed) return callback(clientGone());
    if (res.write(chunk)) return callback();
    this.#waitFor('drain', callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const res = this.#res;
    if (res.destroyed) return callback(clientGone());
    this.#waitFor('finish', callback);
    res.end();
  }

  /** `event`, the connection closing first (the run fails as aborted), or the send timeout. */
  #waitFor(event: 'drain' | 'finish', callback: (error?: Error | null) => void): void {
    const res = this.#res;
    let timer: NodeJS.Timeout | undefined;
    const settle = (error: Error | null) => {
      clearTimeout(timer);
      res.off(event, done);
      res.off('close', closed);
      callback(error);
    };
    const done = () => settle(null);
    const closed = () => settle(res.writableFinished ? null : clientGone());
    res.on(event, done);
    res.on('close', closed);
    const ms = this.#sendTimeoutMs;
    if (ms > 0) {
      timer = setTimeout(() => settle(new SluiceError('TIMEOUT', `The client took no data for ${Math.round(ms / 1000)} s; the download was given up.`)), ms);
    }
  }

  /**
   * A run that fails once the body has started cannot change the status any more: resetting
   * the socket withholds the terminating chunk, so the client sees an incomplete transfer
   * rather than a clean end of a truncated file.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const res = this.#res;
    if (error && res.headersSent && !res.writableFinished) abortResponse(res, error);
    callback(error);
  }
}

export interface HttpOutputOptions {
  readonly format: OutputFormat;
  /** Sent as `Content-Disposition: attachment; filename="..."`. */
  readonly fileName: string;
  readonly gzip: boolean;
  /** Give up on a client that takes no data for this long (default 60 s; 0: never). */
  readonly sendTimeoutMs?: number;
}

/** Headers the output sets, removed again if the run fails before the first body byte. */
export const OUTPUT_HEADERS = ['Content-Type', 'Content-Disposition', 'Content-Encoding'] as const;

/**
 * The response as a run's output. Status and headers are set only when the run opens its
 * output, i.e. after parameter validation and the pre-checks, so those can still answer
 * 400/404 with JSON.
 */
export function httpOutput(res: ServerResponse, options: HttpOutputOptions): Output {
  return {
    description: `download ${safeFileName(options.fileName)}${options.gzip ? ' (gzip)' : ''}`,
    open() {
      res.statusCode = 200;
      res.setHeader('Content-Type', options.format.contentType);
      res.setHeader('Content-Disposition', `attachment; filename="${safeFileName(options.fileName)}"`);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      const writer = new ResponseWriter(res, options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS);
      if (!options.gzip) return [writer];
      res.setHeader('Content-Encoding', 'gzip');
      return [createGzip(), writer];
    },
  };
}
