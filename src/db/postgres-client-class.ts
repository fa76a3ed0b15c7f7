import type pg from 'pg';
import { loadPg } from './pg-modules.ts';

/** A statement given as text or as a config object; cursors and COPY streams are Submittables instead. */
type PlainQuery = string | (pg.QueryConfig & { readonly query_timeout?: number });

/** pg's socket, which its typings keep private. */
interface WithSocket {
  readonly connection: { readonly stream: { destroy(): void; once(event: 'close', listener: () => void): unknown } };
}

/** How long closing a connection waits for the server to close its side. */
const END_GRACE_MS = 1000;

export interface ClientClassOptions {
  /** Plain statements fail when no answer comes within this long (undefined: wait as long as it takes). */
  readonly answerTimeoutMs?: number;
}

/**
 * The pg Client class of sluice's pools, for the two ways a stopped backend or a dead network path
 * would otherwise hang a run forever, which no server-side setting can catch:
 * - a plain statement unanswered within `answerTimeoutMs` fails (pg's client-side `query_timeout`).
 *   It is set per statement, not on the pool: pg would apply a pool-wide one to cursors and COPY
 *   streams too, which a long export outlives; those are watched for progress by their readers.
 * - closing a connection sends Terminate and then waits for the server to close its side; a server
 *   that does not within a second has its socket closed for it, or the open socket alone would
 *   keep a finished CLI process alive.
 */
export function sluiceClientClass(options: ClientClassOptions): typeof pg.Client {
  const { answerTimeoutMs } = options;
  class SluiceClient extends loadPg().Client {
    // pg's overloads cannot be restated one by one here; the arguments pass through unchanged.
    override query(...args: unknown[]): never {
      const [query, ...rest] = args;
      const timed = answerTimeoutMs === undefined || isSubmittable(query) ? query : withTimeout(query as PlainQuery, answerTimeoutMs);
      return (super.query as (...a: unknown[]) => never)(timed, ...rest);
    }

    override end(...args: unknown[]): never {
      const { stream } = (this as unknown as WithSocket).connection;
      const timer = setTimeout(() => stream.destroy(), END_GRACE_MS).unref();
      stream.once('close', () => clearTimeout(timer));
      return (super.end as (...a: unknown[]) => never)(...args);
    }
  }
  return SluiceClient;
}

function isSubmittable(query: unknown): boolean {
  return typeof query === 'object' && query !== null && typeof (query as { submit?: unknown }).submit === 'function';
}

function withTimeout(query: PlainQuery, ms: number): PlainQuery {
  if (typeof query === 'string') return { text: query, query_timeout: ms };
  return query.query_timeout === undefined ? { ...query, query_timeout: ms } : query;
}
