import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalScope, scopeHash, type Scope } from './scope-hash.js';

const base: Scope = {
  requesterId: 'https://idp.example#dan',
  resource: 'ehr',
  role: 'analyst-read',
  durationMs: 3_600_000,
  purpose: 'HOPERAT',
  patientIds: ['MRN-2', 'MRN-1'],
  ticket: 'T-1',
};

describe('scope hash', () => {
  it('is a hex SHA-256 and stable for the same scope', () => {
    assert.match(scopeHash(base), /^[0-9a-f]{64}$/);
    assert.equal(scopeHash(base), scopeHash({ ...base }));
  });

  it('ignores patient id order and duplicates (same set, same scope)', () => {
    assert.equal(scopeHash(base), scopeHash({ ...base, patientIds: ['MRN-1', 'MRN-2', 'MRN-1'] }));
  });

  it('changes when any part of the scope changes', () => {
    const variants: Scope[] = [
      { ...base, requesterId: 'https://idp.example#eve' },
      { ...base, resource: 'ehr2' },
      { ...base, role: 'analyst-write' },
      { ...base, durationMs: 3_600_001 },
      { ...base, purpose: 'TREAT' },
      { ...base, patientIds: ['MRN-1'] },
      { ...base, patientIds: [] },
      { ...base, ticket: undefined },
      { ...base, ticket: 'T-2' },
    ];
    const hashes = new Set([scopeHash(base), ...variants.map(scopeHash)]);
    assert.equal(hashes.size, variants.length + 1);
  });

  it('cannot be confused by separators inside values', () => {
    // A naive "a|b" join would make these two the same string.
    const a = scopeHash({ ...base, resource: 'ehr|x', role: 'y' });
    const b = scopeHash({ ...base, resource: 'ehr', role: 'x|y' });
    assert.notEqual(a, b);
    assert.notEqual(scopeHash({ ...base, ticket: 'null' }), scopeHash({ ...base, ticket: undefined }));
    assert.notEqual(
      scopeHash({ ...base, patientIds: ['a,b'] }),
      scopeHash({ ...base, patientIds: ['a', 'b'] }),
    );
  });

  it('encodes in a fixed order with a version tag', () => {
    assert.ok(canonicalScope(base).startsWith('["phigate.scope.v1","https://idp.example#dan","ehr"'));
  });
});
