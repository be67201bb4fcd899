/**
 * Per-key token buckets (per principal, or per address before authentication). Memory is bounded: past
 * `maxKeys`, the least recently seen keys are forgotten — a forgotten key starts with a full bucket, which errs
 * towards availability for the idle, never towards the flooder (a flooder is always recently seen).
 */
export interface RateLimiter {
  /** Takes one token; returns 0 when allowed, else the seconds to wait. */
  take(key: string, nowMs: number): number;
}

export interface RateLimitOptions {
  readonly max: number;
  readonly windowMs: number;
  readonly maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const { max, windowMs } = options;
  const maxKeys = options.maxKeys ?? 50_000;
  const refillPerMs = max / windowMs;
  const buckets = new Map<string, Bucket>();
  return {
    take(key, nowMs) {
      let bucket = buckets.get(key);
      if (bucket) {
        buckets.delete(key); // re-inserted below: Map order becomes recency order
        bucket.tokens = Math.min(max, bucket.tokens + (nowMs - bucket.updatedMs) * refillPerMs);
        bucket.updatedMs = nowMs;
      } else {
        bucket = { tokens: max, updatedMs: nowMs };
        if (buckets.size >= maxKeys) {
          const oldest = buckets.keys().next();
          if (!oldest.done) buckets.delete(oldest.value);
        }
      }
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
    },
  };
}
