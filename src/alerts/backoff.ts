/**
 * When a failed delivery is tried again: exponential backoff with "equal jitter" — half the exponential delay for
 * sure, the other half at random. The sure half keeps a flapping receiver from being hammered; the random half
 * spreads the retries of many alerts (and replicas) that failed together, so they do not return as one burst.
 */

export interface BackoffBounds {
  /** Delay after the first failure (before jitter). */
  readonly initialMs: number;
  /** No delay exceeds this. */
  readonly maxMs: number;
}

/** Delay after failed attempt number `attempt` (1-based); `random` returns [0, 1). */
export function retryDelayMs(
  attempt: number,
  bounds: BackoffBounds,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(bounds.maxMs, bounds.initialMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** The next attempt's time, or undefined when `attempt` was the last one allowed (a dead letter). */
export function nextAttemptAt(
  attempt: number,
  maxAttempts: number,
  now: Date,
  bounds: BackoffBounds,
  random?: () => number,
): Date | undefined {
  if (attempt >= maxAttempts) return undefined;
  return new Date(now.getTime() + retryDelayMs(attempt, bounds, random));
}
