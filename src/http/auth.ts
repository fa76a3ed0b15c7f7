import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SluiceError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { type AuthThrottle, createAuthThrottle } from './auth-throttle.ts';
import { sendJson } from './respond.ts';

/** A bearer token shorter than this is refused: it could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Compares digests, not the tokens: `timingSafeEqual` needs equal lengths, and comparing
 * fixed-length digests leaks neither the token's content nor its length.
 */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

export function isAuthorized(req: IncomingMessage, token: string): boolean {
  return tokenMatches(bearerToken(req.headers.authorization), token);
}

/** Throws USAGE unless the token is long enough to resist guessing. */
export function checkTokenStrength(token: string | undefined, source = 'The admin token'): asserts token is string {
  if (!token) throw new SluiceError('USAGE', `${source} is empty.`);
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new SluiceError('USAGE', `${source} has ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (for example \`openssl rand -base64 24\`), or leave ADMIN_TOKEN unset for a generated one.`);
  }
}

export interface BearerOptions {
  /** Failed attempts per client address; a shared one by default per guard. */
  readonly throttle?: AuthThrottle;
  readonly logger?: Logger;
}

/** Answers the request (401, or 429 for an address that failed too often) and returns false unless it carries the token. */
export type BearerCheck = (req: IncomingMessage, res: ServerResponse) => boolean;

export function bearerCheck(token: string, options: BearerOptions = {}): BearerCheck {
  checkTokenStrength(token);
  const throttle = options.throttle ?? createAuthThrottle();
  const logger = options.logger ?? silentLogger;
  return (req, res) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = throttle.retryAfter(address);
    if (wait > 0) {
      sendJson(res, 429, { error: 'Too many failed authentications from this address; retry later.' }, { 'Retry-After': String(wait) });
      return false;
    }
    if (isAuthorized(req, token)) return true;
    if (throttle.failed(address)) logger.warn({ address, url: req.url }, 'repeated failed authentications: this address is slowed down');
    else logger.info({ address, url: req.url }, 'failed authentication');
    res.setHeader('WWW-Authenticate', 'Bearer');
    sendJson(res, 401, { error: 'Unauthorized: send Authorization: Bearer <token>' });
    return false;
  };
}

/** Express-style middleware: `app.use('/api/admin', requireBearer(token))`. */
export function requireBearer(token: string, options: BearerOptions = {}): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const check = bearerCheck(token, options);
  return (req, res, next) => {
    if (check(req, res)) next();
  };
}

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}
