import type { IncomingMessage } from 'node:http';
import { SluiceError } from '../core/errors.ts';

/** A small JSON request body (a form's fields), refused beyond `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new SluiceError('USAGE', 'Send the request as JSON (Content-Type: application/json).');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SluiceError('USAGE', `The request body is over ${limit} bytes.`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new SluiceError('USAGE', 'The request body is not valid JSON.');
  }
}

/** `{ "params": { ... } }`: a form's parameter values. */
export function paramsRequest(body: unknown): Record<string, unknown> {
  const { params } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) throw new SluiceError('USAGE', '"params" must be an object of parameter values.');
  return Object.assign(Object.create(null) as Record<string, unknown>, params ?? {});
}

/** `{ "pipeline": "...", "params": { ... } }`, as the console's download form sends it. */
export function pipelineRequest(body: unknown): { pipeline: string; params: Record<string, unknown> } {
  const { pipeline } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof pipeline !== 'string') throw new SluiceError('USAGE', 'Name the pipeline: { "pipeline": "<name>", "params": { ... } }.');
  return { pipeline, params: paramsRequest(body) };
}
