/**
 * Slows down guessing: each client address has a bucket of failed authentications that refills
 * over time; an address whose bucket is empty is refused (429) before its token is even
 * compared. A legitimate client that never fails is never affected.
 */
export interface AuthThrottle {
  /** Seconds until the address may try again, or 0 when it may try now. */
  retryAfter(address: string): number;
  /** Records a failed attempt; returns true when this one emptied the bucket (worth a log line). */
  failed(address: string): boolean;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export const AUTH_FAILURES_BURST = 30;
export const AUTH_FAILURES_PER_SECOND = 1;
/** Buckets are forgotten once full again; the map is swept when it grows past this. */
const SWEEP_AT = 10_000;

export function createAuthThrottle(burst = AUTH_FAILURES_BURST, perSecond = AUTH_FAILURES_PER_SECOND, now: () => number = Date.now): AuthThrottle {
  const buckets = new Map<string, Bucket>();
  const refill = (bucket: Bucket, at: number) => {
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.updatedAt) / 1000) * perSecond);
    bucket.updatedAt = at;
  };
  const sweep = (at: number) => {
    for (const [address, bucket] of buckets) {
      refill(bucket, at);
      if (bucket.tokens >= burst) buckets.delete(address);
    }
  };
  return {
    retryAfter(address) {
      const bucket = buckets.get(address);
      if (!bucket) return 0;
      refill(bucket, now());
      return bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) / perSecond);
    },
    failed(address) {
      const at = now();
      if (buckets.size > SWEEP_AT) sweep(at);
      let bucket = buckets.get(address);
      if (!bucket) buckets.set(address, (bucket = { tokens: burst, updatedAt: at }));
      refill(bucket, at);
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      return bucket.tokens < 1;
    },
  };
}
