import { once } from 'node:events';
import { type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SluiceMetrics } from './prometheus.ts';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * `/healthz` and `/metrics` of a process without the HTTP server (the scheduler, a worker), for
 * probes and Prometheus. Listening when it resolves; its URL is printed to stderr.
 */
export async function serveMetrics(metrics: SluiceMetrics, health: () => Record<string, unknown>, where: { readonly port: number; readonly host: string; readonly label: string }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return json(res, 200, { status: 'ok', ...health() });
    if (path !== '/metrics') return json(res, 404, { error: 'Not found' });
    void metrics.render().then((text) => {
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
    });
  });
  server.listen(where.port, where.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`${where.label}: metrics on http://${where.host}:${port}/metrics\n`);
  return server;
}
