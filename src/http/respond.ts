import type { ServerResponse } from 'node:http';
import type { SluiceError } from '../core/errors.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/**
 * What a client may see of an error: the message for its own mistakes (4xx: they name the
 * parameter and never contain SQL), only the code for ours (5xx messages may quote the
 * database's error or its URL).
 */
export function publicError(error: SluiceError): { status: number; body: { error: string; param?: string } } {
  const status = error.httpStatus;
  // 499 (client closed) is a log status; a client that is still there gets a real one.
  if (status < 499) return { status, body: error.param === undefined ? { error: error.message } : { error: error.message, param: error.param } };
  return { status: status === 499 ? 500 : status, body: { error: `The export failed (${error.code}); see the server log.` } };
}

/**
 * Ends a response whose body has started and cannot be completed. Closing the socket would end
 * an unframed body (HTTP/1.0, or a proxy speaking it: nginx's default) as if it were complete;
 * a TCP reset is an error to every client and proxy, so a cut-off file never passes for a whole one.
 */
export function abortResponse(res: ServerResponse, error?: Error): void {
  if (res.destroyed) return;
  const socket = res.socket;
  if (socket && !socket.destroyed) socket.resetAndDestroy();
  res.destroy(error);
}
