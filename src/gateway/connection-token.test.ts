import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createConnectionTokens } from './connection-token.js';

const secret = Buffer.alloc(32, 7);
const now = new Date('2026-11-22T12:00:00Z');
const claims = {
  grantId: '0549b594-7b57-48ef-a7ee-142405246737',
  principalId: 'https://idp.test#dan',
  expiresAt: new Date('2026-11-22T13:00:00Z'),
};

describe('connection tokens', () => {
  it('round-trips the grant, the person and the expiry; each token has its own id', () => {
    const tokens = createConnectionTokens(secret);
    const a = tokens.mint(claims);
    const b = tokens.mint(claims);
    assert.notEqual(a.token, b.token);
    assert.match(a.token, /^pgt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(tokens.verify(a.token, now), { ...claims, tokenId: a.tokenId });
  });

  it('refuses an expired token, one made with another key, and any altered byte', () => {
    const tokens = createConnectionTokens(secret);
    const { token } = tokens.mint(claims);
    assert.equal(tokens.verify(token, claims.expiresAt), undefined);
    assert.equal(createConnectionTokens(Buffer.alloc(32, 8)).verify(token, now), undefined);
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.integer({ min: 1, max: 127 }), (at, delta) => {
        const code = (token.charCodeAt(at) + delta) % 128;
        const altered = token.slice(0, at) + String.fromCharCode(code) + token.slice(at + 1);
        return altered === token || tokens.verify(altered, now) === undefined;
      }),
    );
  });

  it('refuses things that are not tokens without work', () => {
    const tokens = createConnectionTokens(secret);
    for (const text of ['', 'pgt_', 'pgt_a.b.c', 'eyJhbGciOi...', `pgt_${'a'.repeat(5000)}.x`])
      assert.equal(tokens.verify(text, now), undefined);
  });
});
