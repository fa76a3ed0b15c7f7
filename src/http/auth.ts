import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './respond.ts';

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

/** Answers 401 and returns false unless the request carries the token. */
export function checkBearer(req: IncomingMessage, res: ServerResponse, token: string): boolean {
  if (isAuthorized(req, token)) return true;
  res.setHeader('WWW-Authenticate', 'Bearer');
  sendJson(res, 401, { error: 'Unauthorized: send Authorization: Bearer <token>' });
  return false;
}

/** Express-style middleware: `app.use('/api/admin', requireBearer(token))`. */
export function requireBearer(token: string): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  if (!token) throw new RangeError('requireBearer needs a non-empty token');
  return (req, res, next) => {
    if (checkBearer(req, res, token)) next();
  };
}

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}
