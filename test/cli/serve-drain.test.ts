import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { type RunRecord, RunHistory } from '../../src/ops/run-history.ts';
import { collect, get, open } from '../http/client.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { type Daemon, startDaemon } from '../support/daemon.ts';
import { scratchDir } from '../support/sqlite.ts';
import { seedTickets } from '../support/tickets.ts';

const FIXTURES = new URL('../fixtures/ops/', import.meta.url).pathname;
const TOKEN = 'drain-test-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
const dir = scratchDir('sluice-drain-');
let scratch: ScratchDatabase | undefined;

const engines: Array<[string, () => string]> = [['sqlite', () => `sqlite:${dir.file('d.db')}`]];
if (await postgresAvailable()) engines.push(['postgres', () => scratch!.url]);

beforeAll(async () => {
  if (engines.length > 1) scratch = await createScratchDatabase();
  for (const [, url] of engines) await seedTickets(url());
}, 60_000);

afterAll(async () => {
  await scratch?.drop();
  dir.remove();
});

/** `sluice serve` of the fixtures on `url`, with the URL it listens on. */
async function serve(url: string, extra: string[] = []): Promise<Daemon & { readonly url: string }> {
  const server = await startDaemon(['serve', '--port', '0', '--db', url, '--pipelines', FIXTURES, '--log-level', 'info', ...extra], /listening on http:\/\/\S+/, { env: { ADMIN_TOKEN: TOKEN, DATABASE_URL: '' } });
  return { ...server, url: /listening on (http:\/\/\S+)/.exec(server.stderr())![1]! };
}

async function runsOf(url: string): Promise<RunRecord[]> {
  const db = openDatabase(url);
  try {
    return await RunHistory.reader(db).list({ pipeline: 'slow-numbers', limit: 100 });
  } finally {
    await db.close();
  }
}

describe.each(engines)('sluice serve drains on SIGTERM (%s)', (_engine, url) => {
  it('lets a running download finish, turns new requests away, records the run and exits 0', async () => {
    const server = await serve(url());
    const res = await open(`${server.url}/api/pipelines/slow-numbers/output?batches=15&pauseMs=100`, auth);
    expect(res.statusCode).toBe(200);
    const reply = collect(res);
    await once(res, 'data');
    const stopped = server.stop();
    // The listener closes at once: a new client is refused, and can go to another instance.
    await expect.poll(() => get(`${server.url}/healthz`).then(() => 'answered', () => 'refused'), { timeout: 2000 }).toBe('refused');
    const download = await reply;
    expect(download.ending).toBe('end');
    expect(download.body.toString('utf8').split('\n')).toHaveLength(152);
    expect(await stopped).toBe(0);
    expect(server.stderr()).toContain('drained: 1 finished, 0 aborted');
    const [run] = await runsOf(url());
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'http', rows: 150 });
  });

  it('cuts the downloads still running at --shutdown-timeout: their runs end aborted, and the process exits 0', async () => {
    const server = await serve(url(), ['--shutdown-timeout', '1']);
    const res = await open(`${server.url}/api/pipelines/slow-numbers/output?batches=600&pauseMs=100`, auth);
    const reply = collect(res);
    await once(res, 'data');
    const started = Date.now();
    expect(await server.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(6000);
    expect((await reply).ending).toBe('aborted');
    expect(server.stderr()).toContain('drained: 0 finished, 1 aborted');
    const [run] = await runsOf(url());
    expect(run).toMatchObject({ status: 'aborted', trigger: 'http' });
  });
});

describe('a draining server (embedded)', () => {
  async function started() {
    const { createSluiceServer } = await import('../../src/http/server.ts');
    const { loadPipelines } = await import('../../src/core/registry.ts');
    const database = openDatabase(`sqlite:${dir.file('d.db')}`);
    const sluice = createSluiceServer({ database, token: TOKEN, pipelines: await loadPipelines(FIXTURES), history: false });
    sluice.server.listen(0, '127.0.0.1');
    await once(sluice.server, 'listening');
    const port = (sluice.server.address() as { port: number }).port;
    return { sluice, database, port };
  }

  it('turns away a request that still arrives on a kept-alive connection: 503 draining, with Retry-After', async () => {
    const { sluice, database, port } = await started();
    // A longer download keeps the drain going while the kept-alive connection asks again.
    const longer = collect(await open(`http://127.0.0.1:${port}/api/pipelines/slow-numbers/output?batches=20&pauseMs=100`, auth));
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const closed = once(socket, 'close');
    const head = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    socket.write(head('/api/pipelines/slow-numbers/output?batches=5&pauseMs=100'));
    await expect.poll(() => text.length, { timeout: 5000 }).toBeGreaterThan(0);
    const drained = sluice.drain(10_000);
    await expect.poll(() => text.endsWith('0\r\n\r\n'), { timeout: 5000 }).toBe(true);
    socket.write(head('/readyz'));
    await closed;
    const second = text.slice(text.lastIndexOf('HTTP/1.1 '));
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\nRetry-After: 5\r\n/i);
    expect(second).toContain('"status":"draining"');
    expect((await longer).ending).toBe('end');
    expect(await drained).toEqual({ finished: 2, aborted: 0 });
    await database.close();
  });

  it('cuts the running downloads at once when drain(0) follows a drain', async () => {
    const { sluice, database, port } = await started();
    const res = await open(`http://127.0.0.1:${port}/api/pipelines/slow-numbers/output?batches=600&pauseMs=100`, auth);
    const reply = collect(res);
    await once(res, 'data');
    const drained = sluice.drain(60_000);
    const begun = Date.now();
    await sluice.drain(0);
    expect(Date.now() - begun).toBeLessThan(3000);
    expect(await drained).toEqual({ finished: 0, aborted: 1 });
    expect((await reply).ending).toBe('aborted');
    expect(sluice.metrics.activeRuns).toBe(0);
    await database.close();
  });
});
