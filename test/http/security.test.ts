import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';
import type { Database } from '../../src/core/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createAuthThrottle } from '../../src/http/auth-throttle.ts';
import { createSluiceServer } from '../../src/http/server.ts';
import { BIN, sluice } from '../support/cli.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';
import { raffleServer } from '../support/app.ts';
import { close, get, json, listen, memoryLogger } from './client.ts';

const TOKEN = 'security-test-token-0123';
const auth = { Authorization: `Bearer ${TOKEN}` };
const pgOk = await postgresAvailable();
const dir = scratchDir('sluice-security-');
let pg: ScratchDatabase | undefined;

const engines: Array<[string, () => string]> = [['sqlite', () => `sqlite:${dir.file('t.db')}`]];
if (pgOk) engines.push(['postgres', () => pg!.url]);

beforeAll(async () => {
  await seedTickets(`sqlite:${dir.file('t.db')}`);
  if (pgOk) {
    pg = await createScratchDatabase();
    await seedTickets(pg.url);
  }
});
afterAll(async () => {
  await pg?.drop();
  dir.remove();
});

describe.each(engines)('request validation on %s', (_engine, url) => {
  let database: Database;
  let base = '';
  let stop: () => Promise<void>;
  beforeAll(async () => {
    database = openDatabase(url());
    const { server } = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN });
    base = await listen(server);
    stop = async () => {
      await close(server);
      await database.close();
    };
  });
  afterAll(() => stop());

  it.each(['q=%00abc', 'seller=a%00', 'category=%00', 'status=sold%00'])('refuses a NUL byte (?%s) with 400, before any query', async (query) => {
    const reply = await get(`${base}/api/admin/tickets/export-csv?${query}`, auth);
    expect(reply.status).toBe(400);
    expect((json(reply) as { error: string }).error).toMatch(/without NUL characters/);
  });

  it('refuses ?__proto__= like any unknown parameter', async () => {
    const reply = await get(`${base}/api/admin/tickets/export-csv?__proto__=x`, auth);
    expect(reply.status).toBe(400);
    expect((json(reply) as { error: string }).error).toMatch(/^Unknown parameter "__proto__"/);
  });

  it('answers a broken %-escape in a pipeline name with 400', async () => {
    const reply = await get(`${base}/api/pipelines/export%E0%A4%A/output`, auth);
    expect(reply.status).toBe(400);
    expect(json(reply)).toEqual({ error: 'Malformed pipeline name in the URL (a broken %-escape).' });
  });
});

describe('authentication', () => {
  it('slows down an address after repeated failures (429 with Retry-After, even for the right token), logs it, and lets it in again later', async () => {
    let now = 0;
    const database = openDatabase(`sqlite:${dir.file('t.db')}`);
    const { logger, records } = memoryLogger();
    const { bearerCheck } = await import('../../src/http/auth.ts');
    const check = bearerCheck(TOKEN, { throttle: createAuthThrottle(5, 1, () => now), logger });
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      if (check(req, res)) res.end('in');
    });
    const base = await listen(server);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await get(base, { Authorization: 'Bearer wrong-guess-number-x' })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      const blocked = await get(base, auth);
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBe('1');
      expect(records.some((r) => r.msg === 'repeated failed authentications: this address is slowed down' && r.address === '127.0.0.1')).toBe(true);
      now += 1000;
      expect((await get(base, auth)).status).toBe(200);
    } finally {
      await close(server);
      await database.close();
    }
  });

  it('keeps /metrics open by default and behind the token when asked', async () => {
    const database = openDatabase(`sqlite:${dir.file('t.db')}`);
    const open = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN });
    const guarded = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN, metricsRequireToken: true });
    const openBase = await listen(open.server);
    const guardedBase = await listen(guarded.server);
    try {
      expect((await get(`${openBase}/metrics`)).status).toBe(200);
      expect((await get(`${guardedBase}/metrics`)).status).toBe(401);
      expect((await get(`${guardedBase}/metrics`, auth)).status).toBe(200);
    } finally {
      await close(open.server);
      await close(guarded.server);
      await database.close();
    }
  });

  it('refuses to serve with an ADMIN_TOKEN shorter than 16 characters (exit 2, with the reason)', async () => {
    const result = await sluice(['serve', '--db', `sqlite:${dir.file('t.db')}`, '--port', '0'], { env: { ADMIN_TOKEN: 'a' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('sluice: ADMIN_TOKEN has 1 characters; use at least 16 (for example `openssl rand -base64 24`), or leave ADMIN_TOKEN unset for a generated one.');
  });
});

describe('sluice serve with an unreachable database', () => {
  it('logs it at start, and /readyz answers 503 while /healthz answers 200', async () => {
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'serve', '--db', 'postgres://postgres@127.0.0.1:1/nowhere', '--port', '0', '--connect-timeout', '1'], {
      env: { ...process.env, ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    try {
      const base = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const at = /listening on (http:\/\/\S+)/.exec(stderr);
          if (at && stderr.includes('/readyz answers 503 until it does')) resolve(at[1]!);
        });
        child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
      });
      expect(stderr).toMatch(/"level":50.*the database does not answer/);
      expect((await get(`${base}/readyz`)).status).toBe(503);
      expect((await get(`${base}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('server logs', () => {
  it('write each key once per line, the pipeline included (the handler and the run both name it)', async () => {
    const { Writable } = await import('node:stream');
    const { pino } = await import('pino');
    const { duplicateKeys } = await import('../support/json-keys.ts');
    const { sluice: cli } = await import('../support/cli.ts');
    const big = `sqlite:${dir.file('logs.db')}`;
    expect((await cli(['run', 'seed-tickets', '--db', big, '--count', '25000', '--log-level', 'warn'])).code).toBe(0);
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(...chunk.toString().trim().split('\n')), cb()) }));
    const database = openDatabase(big);
    const { server } = createSluiceServer({ ...(await raffleServer()), database, token: TOKEN, logger });
    const base = await listen(server);
    try {
      expect((await get(`${base}/api/admin/tickets/export-csv?q=a&status=sold`, auth)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await close(server);
      await database.close();
    }
    expect(lines.some((line) => line.includes('export finished'))).toBe(true);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
  });
});
