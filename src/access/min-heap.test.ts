import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MinHeap } from './min-heap.js';

describe('MinHeap', () => {
  it('pops in key order for any input (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e9, max: 1e9 }), { maxLength: 300 }), (keys) => {
        const heap = new MinHeap<number>();
        keys.forEach((k, i) => heap.push(k, i));
        const out: number[] = [];
        for (let e = heap.pop(); e !== undefined; e = heap.pop()) out.push(e.key);
        assert.deepEqual(
          out,
          [...keys].sort((a, b) => a - b),
        );
        assert.equal(heap.size, 0);
      }),
    );
  });

  it('popUntil takes exactly the due entries, up to a maximum', () => {
    const heap = new MinHeap<string>();
    for (const k of [50, 10, 40, 20, 30]) heap.push(k, `v${k}`);
    assert.deepEqual(
      heap.popUntil(25).map((e) => e.value),
      ['v10', 'v20'],
    );
    assert.deepEqual(heap.peek(), { key: 30, value: 'v30' });
    assert.deepEqual(
      heap.popUntil(100, 2).map((e) => e.key),
      [30, 40],
    );
    assert.equal(heap.size, 1);
    heap.clear();
    assert.equal(heap.peek(), undefined);
    assert.equal(heap.pop(), undefined);
  });
});
