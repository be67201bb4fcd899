import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelKeys } from './cancel-keys.js';

describe('cancel keys', () => {
  it('finds a session only with both halves of its key, and forgets released keys', () => {
    const keys = new CancelKeys<string>();
    const a = keys.issue('a');
    const b = keys.issue('b');
    assert.notEqual(a.processId, b.processId);
    assert.ok(a.processId > 0);
    assert.equal(keys.find(a.processId, a.secretKey), 'a');
    assert.equal(keys.find(a.processId, a.secretKey ^ 1), undefined);
    assert.equal(keys.find(b.processId, a.secretKey), undefined);
    keys.release(a);
    assert.equal(keys.find(a.processId, a.secretKey), undefined);
    assert.equal(keys.size, 1);
  });
});
