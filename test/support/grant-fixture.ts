/** A grant as the store would hand it out, for unit tests that need one without a database. */
import type { Grant } from '../../src/access/grant.js';

export function grantFixture(overrides: Partial<Grant> = {}): Grant {
  const activatedAt = new Date('2026-01-01T09:00:00Z');
  return {
    id: '0549b594-7b57-48ef-a7ee-142405246737',
    requesterId: 'https://idp.test#dan',
    requester: { id: 'https://idp.test#dan', displayName: 'Dan', groups: ['analysts'], mfa: true },
    requesterPersonKeys: [],
    resource: 'clinic',
    role: 'reader',
    durationMs: 3_600_000,
    purpose: 'HOPERAT',
    justification: 'test',
    ticket: undefined,
    patientIds: [],
    patientsFound: undefined,
    scopeHash: 'scope',
    policyHash: 'abc',
    decision: { outcome: 'allow', mode: 'auto', reasons: [] },
    emergency: false,
    status: 'active',
    createdAt: activatedAt,
    pendingUntil: undefined,
    decidedAt: activatedAt,
    activatedAt,
    expiresAt: new Date(activatedAt.getTime() + 3_600_000),
    endedAt: undefined,
    endReason: undefined,
    endedBy: undefined,
    ...overrides,
  };
}
