import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../core/package-root.ts';
import { sendJson } from './respond.ts';

/**
 * The console's policy: its own scripts and styles only, no inline script or style, no other
 * origin, no framing. A buyer name holding `<script>` can only ever be text.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
} as const;

const TYPES: Readonly<Record<string, string>> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * The console's files (src/console/, shipped with the package, no build step), read once. The
 * page names them with a version (a hash of their content), so a browser may keep them a year
 * and still never runs an old script against a new server; the page itself is always revalidated.
 */
export class ConsoleAssets {
  readonly version: string;
  readonly #page: Buffer;
  readonly #assets = new Map<string, Asset>();

  constructor(dir = join(packageRoot().root, 'src/console')) {
    const hash = createHash('sha256');
    for (const [name, type] of Object.entries(TYPES)) {
      const body = readFileSync(join(dir, name));
      hash.update(body);
      this.#assets.set(name, { body, type });
    }
    this.version = hash.digest('hex').slice(0, 12);
    this.#page = Buffer.from(readFileSync(join(dir, 'index.html'), 'utf8').replaceAll('{{VERSION}}', this.version));
  }

  /** `/` and `/console/<file>`; false when the path is not the console's. */
  serve(path: string, query: URLSearchParams, res: ServerResponse): boolean {
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': this.#page.length, 'Cache-Control': 'no-cache' });
      res.end(this.#page);
      return true;
    }
    const name = /^\/console\/([\w.-]+)$/.exec(path)?.[1];
    const asset = name === undefined ? undefined : this.#assets.get(name);
    if (!asset) {
      if (!path.startsWith('/console/')) return false;
      sendJson(res, 404, { error: 'Not found' });
      return true;
    }
    const current = query.get('v') === this.version;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': asset.type,
      'Content-Length': asset.body.length,
      'Cache-Control': current ? 'public, max-age=31536000, immutable' : 'no-cache',
      ETag: `"${this.version}"`,
    });
    res.end(asset.body);
    return true;
  }
}
