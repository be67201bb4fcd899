import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAttemptAt, retryDelayMs } from './backoff.js';

const bounds = { initialMs: 1_000, maxMs: 60_000 };

describe('retry backoff (exponential, equal jitter)', () => {
  it('doubles per attempt between half and all of the exponential delay', () => {
    assert.equal(
      retryDelayMs(1, bounds, () => 0),
      500,
    );
    assert.equal(
      retryDelayMs(1, bounds, () => 0.999999),
      1_000,
    );
    assert.equal(
      retryDelayMs(2, bounds, () => 0),
      1_000,
    );
    assert.equal(
      retryDelayMs(4, bounds, () => 0),
      4_000,
    );
  });
  it('never exceeds the maximum, however many attempts', () => {
    assert.equal(
      retryDelayMs(10, bounds, () => 0.999999),
      60_000,
    );
    assert.equal(
      retryDelayMs(10_000, bounds, () => 0.999999),
      60_000,
    );
    assert.equal(
      retryDelayMs(10, bounds, () => 0),
      30_000,
    );
  });
  it('spreads retries that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(5, bounds)));
    assert.ok(delays.size > 10);
  });
  it('makes the last allowed attempt a dead letter', () => {
    const now = new Date(0);
    assert.equal(nextAttemptAt(3, 3, now, bounds)?.getTime(), undefined);
    assert.equal(nextAttemptAt(2, 3, now, bounds, () => 0)?.getTime(), 1_000);
  });
});
