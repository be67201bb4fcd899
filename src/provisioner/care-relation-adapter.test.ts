import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../identity/principal.js';
import type { CareRelation } from '../policy/types.js';
import { requesterIdentifier } from './care-relation-adapter.js';

const relation: CareRelation = {
  table: 'public.care_team',
  requesterColumn: 'clinician',
  requesterIdentifier: 'subject',
  issuer: undefined,
  validFrom: undefined,
  validUntil: undefined,
  patientPath: { hops: [], idColumn: 'patient_id' },
};
const olivia: Principal = {
  id: 'https://idp.example#olivia',
  issuer: 'https://idp.example',
  subject: 'olivia',
  displayName: 'Olivia',
  email: 'olivia@clinic.example',
  emailVerified: true,
  groups: ['physicians'],
  mfa: { satisfied: true, amr: ['pwd', 'otp'], acr: undefined },
  tokenId: undefined,
  tokenExpiresAt: new Date('2026-12-01T12:00:00Z'),
};
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('who the requester is, in a care relation’s terms', () => {
  it('takes the subject when one issuer is trusted, or the one the policy names', () => {
    assert.equal(requesterIdentifier(relation, olivia, ['https://idp.example']), 'olivia');
    const named = { ...relation, issuer: 'https://idp.example' };
    assert.equal(
      requesterIdentifier(named, olivia, ['https://idp.example', 'https://other.example']),
      'olivia',
    );
  });

  it('refuses a subject that could be another issuer’s person', () => {
    const two = ['https://idp.example', 'https://other.example'];
    assert.equal(
      code(() => requesterIdentifier(relation, olivia, two)),
      'patients.care-relation-identity',
    );
    const elsewhere = { ...relation, issuer: 'https://other.example' };
    assert.equal(
      code(() => requesterIdentifier(elsewhere, olivia, two)),
      'patients.care-relation-identity',
    );
  });

  it('takes an e-mail address only when the issuer verified it', () => {
    const byEmail = { ...relation, requesterIdentifier: 'email' as const };
    assert.equal(requesterIdentifier(byEmail, olivia, []), 'olivia@clinic.example');
    const unverified = { ...olivia, emailVerified: false };
    assert.equal(
      code(() => requesterIdentifier(byEmail, unverified, [])),
      'patients.care-relation-identity',
    );
    const none = { ...olivia, email: undefined };
    assert.equal(
      code(() => requesterIdentifier(byEmail, none, [])),
      'patients.care-relation-identity',
    );
  });

  it('takes phigate’s own id (issuer#subject) as it is', () => {
    assert.equal(
      requesterIdentifier({ ...relation, requesterIdentifier: 'id' }, olivia, []),
      'https://idp.example#olivia',
    );
  });
});
