import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLeafHasher, verifyPages, type PageEvent } from './leaf-hasher.js';
import { leafHash } from './merkle.js';

const texts = ['{"a":1}', '{"b":"x\\r\\n"}', 'é 😀', ...Array.from({ length: 3000 }, (_, i) => `{"n":${i}}`)];

describe('leaf hasher', () => {
  for (const threads of [0, 1]) {
    it(`gives RFC 6962 leaf hashes for small and large pages (${threads === 0 ? 'in thread' : 'worker'})`, async () => {
      const hasher = createLeafHasher({ threads });
      try {
        for (const page of [texts.slice(0, 3), texts]) {
          const out = await hasher.leaves(page);
          assert.equal(out.length, 32 * page.length);
          page.forEach((t, i) =>
            assert.deepEqual(out.subarray(32 * i, 32 * i + 32), leafHash(Buffer.from(t)), t),
          );
        }
      } finally {
        await hasher.close();
      }
    });
  }

  it('feeds pages in order, each leaf with the stored one', async () => {
    async function* pages(): AsyncGenerator<PageEvent[]> {
      for (let p = 0; p < 5; p++)
        yield texts.slice(p * 10, p * 10 + 10).map((canonical, i) => ({ seq: p * 10 + i + 1, canonical }));
    }
    const seen: number[] = [];
    const hasher = createLeafHasher({ threads: 1 });
    await verifyPages(
      pages(),
      (seq, leaf) => {
        seen.push(seq);
        assert.deepEqual(leaf, leafHash(Buffer.from(texts[seq - 1]!)));
      },
      hasher,
    );
    await hasher.close();
    assert.deepEqual(
      seen,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });
});
