/**
 * A bound on concurrent exports. A slot is taken once a request has passed parameter
 * validation and released when its run has settled (connections released), not when the
 * client leaves: a cancelled query still holds a connection until it is cancelled.
 */
export interface Limiter {
  readonly max: number;
  readonly active: number;
  /** A release function (idempotent), or undefined when every slot is taken. */
  tryAcquire(): (() => void) | undefined;
}

export const DEFAULT_MAX_CONCURRENT_EXPORTS = 4;

export function createLimiter(max = DEFAULT_MAX_CONCURRENT_EXPORTS): Limiter {
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`max concurrent exports must be a positive integer, got ${max}`);
  let active = 0;
  return {
    max,
    get active() {
      return active;
    },
    tryAcquire() {
      if (active >= max) return undefined;
      active++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        active--;
      };
    },
  };
}
