import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRateLimiter } from './rate-limiter.js';

describe('rate limiter', () => {
  it('allows max requests per window, then asks to wait, then refills', () => {
    const limiter = createRateLimiter({ max: 3, windowMs: 60_000 });
    assert.deepEqual(
      [0, 0, 0].map(() => limiter.take('p', 0)),
      [0, 0, 0],
    );
    assert.equal(limiter.take('p', 0), 20);
    assert.equal(limiter.take('other', 0), 0, 'keys are independent');
    assert.equal(limiter.take('p', 20_000), 0, 'one token back after a third of the window');
  });
  it('keeps memory bounded by forgetting the least recently seen keys', () => {
    const limiter = createRateLimiter({ max: 1, windowMs: 60_000, maxKeys: 2 });
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.take('c', 0); // forgets a
    assert.equal(limiter.take('a', 0), 0);
    assert.ok(limiter.take('c', 0) > 0, 'c was seen recently and stays limited');
  });
});
