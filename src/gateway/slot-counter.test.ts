import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlotCounter } from './slot-counter.js';

describe('slot counter', () => {
  it('counts per key, gives a slot back once however often released, and forgets empty keys', () => {
    const slots = new SlotCounter();
    const a1 = slots.take('192.0.2.1');
    const a2 = slots.take('192.0.2.1');
    const b = slots.take('192.0.2.2');
    assert.equal(slots.count('192.0.2.1'), 2);
    assert.equal(slots.count('192.0.2.2'), 1);
    a1();
    a1();
    assert.equal(slots.count('192.0.2.1'), 1, 'a second release of the same slot frees nothing more');
    a2();
    b();
    assert.equal(slots.count('192.0.2.1'), 0);
    assert.equal(slots.size, 0);
  });
});
