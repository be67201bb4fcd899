import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PhigateError } from '../lib/errors.js';
import { answerOf, fingerprint, replayAnswer, validateIdempotencyKey } from './idempotency.js';

describe('idempotency helpers', () => {
  it('fingerprints ignore key order and undefined fields but not values, actions or targets', () => {
    const a = fingerprint('request.create', undefined, { role: 'r', resource: 'x', ticket: undefined });
    assert.equal(a, fingerprint('request.create', undefined, { resource: 'x', role: 'r' }));
    assert.notEqual(a, fingerprint('request.create', undefined, { resource: 'x', role: 's' }));
    assert.notEqual(a, fingerprint('request.cancel', undefined, { resource: 'x', role: 'r' }));
    assert.notEqual(fingerprint('request.approve', 'id1', {}), fingerprint('request.approve', 'id2', {}));
  });

  it('accepts printable ASCII keys up to 200 characters only', () => {
    assert.equal(validateIdempotencyKey(undefined), undefined);
    assert.equal(validateIdempotencyKey('7c1e-ok'), '7c1e-ok');
    for (const bad of ['', 'a b', 'x'.repeat(201), 'é', 'a\r\nb']) {
      assert.throws(() => validateIdempotencyKey(bad), { code: 'idempotency.key-invalid' });
    }
  });

  it('replays a stored error as the same error', () => {
    const err = new PhigateError('conflict', 'request.not-pending', 'closed', { status: 'active' });
    const { statusCode, body } = answerOf(err);
    assert.equal(statusCode, 409);
    const json: unknown = JSON.parse(JSON.stringify(body));
    assert.throws(() => replayAnswer(json), {
      kind: 'conflict',
      code: 'request.not-pending',
      details: { status: 'active', replayed: true },
    });
  });
});
