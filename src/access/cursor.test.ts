import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor } from './cursor.js';

describe('list cursors', () => {
  it('round-trip a position', () => {
    const p = { createdAt: new Date('2025-01-02T03:04:05.678Z'), id: '0b8f5a0e-6a57-4a8e-9c55-8d7b0c1f2e3d' };
    assert.deepEqual(decodeCursor(encodeCursor(p)), p);
  });

  it('refuse anything else with cursor.invalid', () => {
    const bad = [
      '',
      'not base64!',
      Buffer.from('{}').toString('base64url'),
      Buffer.from('["x","0b8f5a0e-6a57-4a8e-9c55-8d7b0c1f2e3d"]').toString('base64url'),
      Buffer.from('["2025-01-01T00:00:00Z","1; drop table x"]').toString('base64url'),
      'a'.repeat(500),
    ];
    for (const c of bad) {
      assert.throws(() => decodeCursor(c), { code: 'cursor.invalid' }, JSON.stringify(c));
    }
  });
});
