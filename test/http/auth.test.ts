import { type IncomingMessage, type Server, createServer } from 'node:http';
import express from 'express';
import { beforeEach, describe, expect, it } from 'vitest';
import { requireBearer } from '../../src/http/auth.ts';
import { get, json, serverForSuite } from './client.ts';

const TOKEN = 's3cret-token-0123456789';
const REFUSED: Array<Record<string, string>> = [
  {},
  { Authorization: 'Bearer wrong' },
  { Authorization: `Basic ${TOKEN}` },
  { Authorization: `Bearer ${TOKEN}x` },
  { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
  { Authorization: `Bearer ${TOKEN} extra` },
];

/** The `attempt` of every request that got past the guard: what ran after it. */
const reached: string[] = [];
beforeEach(() => void (reached.length = 0));

function pass(req: IncomingMessage): void {
  reached.push(new URL(req.url ?? '/', 'http://localhost').searchParams.get('attempt') ?? '');
}

/** requireBearer in front of a route, as the README mounts it. */
function expressApp(): Server {
  const app = express();
  app.use('/admin', requireBearer(TOKEN));
  app.use('/admin', (req, _res, next) => {
    pass(req);
    next();
  });
  app.get('/admin/data', (_req, res) => {
    // Guarded so that a request let through after its 401 shows up in `reached`, not as a crash.
    if (!res.headersSent) res.type('text/plain').send('secret');
  });
  return createServer(app);
}

/** requireBearer called by hand in a bare node:http listener. */
function plainServer(): Server {
  const guard = requireBearer(TOKEN);
  return createServer((req, res) =>
    guard(req, res, () => {
      pass(req);
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/plain' }).end('secret');
    }),
  );
}

describe.each([
  ['Express', expressApp],
  ['node:http', plainServer],
])('requireBearer in %s', (_name, make) => {
  const at = serverForSuite(make);

  it('answers 401 and never calls next for a missing or wrong token', async () => {
    for (const [i, headers] of REFUSED.entries()) {
      const reply = await get(`${at.url}/admin/data?attempt=${i}`, headers);
      expect(reply.status, JSON.stringify(headers)).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(json(reply)).toEqual({ error: 'Unauthorized: send Authorization: Bearer <token>' });
      expect(reply.body.toString('utf8')).not.toContain('secret');
    }
    // A request that passes runs after every refused one has been handled: whatever a refused
    // request's next() would have done has happened by the time this one is answered.
    const ok = await get(`${at.url}/admin/data?attempt=ok`, { Authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.body.toString('utf8')).toBe('secret');
    expect(reached).toEqual(['ok']);
  });

  it('calls next exactly once for the right token', async () => {
    const reply = await get(`${at.url}/admin/data?attempt=good`, { Authorization: `bearer   ${TOKEN} ` });
    expect(reply.status).toBe(200);
    expect(reply.headers['www-authenticate']).toBeUndefined();
    expect(reached).toEqual(['good']);
  });
});

it('requireBearer refuses an empty token at setup', () => {
  expect(() => requireBearer('')).toThrow(expect.objectContaining({ code: 'USAGE' }));
  expect(() => requireBearer('a'.repeat(15))).toThrow(/has 15 characters; use at least 16/);
});
