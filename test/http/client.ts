import { afterAll, beforeAll } from 'vitest';
import { type IncomingHttpHeaders, type IncomingMessage, type Server, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** How the body ended: `end` (complete) or `aborted` (the server cut the connection). */
  readonly ending: 'end' | 'aborted';
}

export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export function open(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Reads a whole response; a connection cut before the terminating chunk resolves as `aborted`. */
export function collect(res: IncomingMessage): Promise<Reply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (ending: Reply['ending']) => {
      if (settled) return;
      settled = true;
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ending });
    };
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => done(res.complete ? 'end' : 'aborted'));
    res.on('aborted', () => done('aborted'));
    res.on('error', () => done('aborted'));
    res.on('close', () => done(res.complete ? 'end' : 'aborted'));
  });
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return collect(await open(url, headers));
}

export function json(reply: Reply): unknown {
  return JSON.parse(reply.body.toString('utf8'));
}

/** A logger whose records the test can read. */
export function memoryLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), records };
}

/** Polls until `check` holds or the deadline passes; returns the last value. */
export async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, deadlineMs: number): Promise<{ value: T; ok: boolean; elapsedMs: number }> {
  const start = performance.now();
  for (;;) {
    const value = await probe();
    const elapsedMs = performance.now() - start;
    if (check(value)) return { value, ok: true, elapsedMs };
    if (elapsedMs > deadlineMs) return { value, ok: false, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts `make()` before the suite's tests and closes it after them; tests read `.url`. */
export function serverForSuite(make: () => Server): { readonly url: string; readonly server: Server | undefined } {
  const state: { url: string; server: Server | undefined } = { url: '', server: undefined };
  beforeAll(async () => {
    state.server = make();
    state.url = await listen(state.server);
  });
  afterAll(() => (state.server ? close(state.server) : undefined));
  return state;
}
