import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestDetail, requestTable } from './format.js';

describe('requestDetail', () => {
  it('names each approver with their account: two people with one display name never look like one', () => {
    const text = requestDetail({
      id: 'r1',
      status: 'active',
      resource: 'clinic-db',
      role: 'chart',
      durationMs: 1_800_000,
      purpose: 'HOPERAT',
      approvals: [
        {
          approverId: 'https://idp-a.example#carol',
          approverName: 'Dr. Lead',
          verdict: 'approve',
          valid: true,
        },
        {
          approverId: 'https://idp-a.example#chris',
          approverName: 'Dr. Lead',
          verdict: 'approve',
          valid: true,
        },
      ],
    });
    const lines = text.split('\n').filter((l) => l.includes('approved by'));
    assert.deepEqual(lines, [
      '  approved by    Dr. Lead <https://idp-a.example#carol>',
      '  approved by    Dr. Lead <https://idp-a.example#chris>',
    ]);
  });
});

describe('requestDetail and requestTable times and outcome', () => {
  const times = { now: new Date('2026-12-02T16:19:00Z'), timeZone: 'UTC' };
  const base = {
    id: 'r2',
    resource: 'clinic-db',
    role: 'chart',
    durationMs: 1_800_000,
    purpose: 'HOPERAT',
    createdAt: '2026-12-02T15:58:57.991Z',
    requirement: { count: 1, groups: ['clinical-leads'], fromEachGroup: false },
    decision: {
      outcome: 'needs-approval',
      reasons: [{ code: 'approval.required', message: 'needs 1 approval' }],
    },
  };

  it('says what a pending request still needs, and until when it waits', () => {
    const text = requestDetail(
      { ...base, status: 'pending', pendingUntil: '2026-12-02T17:19:00Z', approvals: [] },
      times,
    );
    assert.match(text, /needs {10}1 approval\(s\) from clinical-leads/);
    assert.match(text, /reason {9}approval\.required/);
    assert.match(text, /waits until {4}17:19 UTC, in 1 h/);
    assert.match(text, /asked {10}15:58 UTC, 20 min ago/);
  });

  it('once approved says who approved and when it ends, not what was needed', () => {
    const text = requestDetail(
      {
        ...base,
        status: 'active',
        decidedAt: '2026-12-02T15:59:00Z',
        expiresAt: '2026-12-02T16:28:57.991Z',
        approvals: [
          { approverId: 'https://idp#carol', approverName: 'Carol Lead', verdict: 'approve', valid: true },
        ],
      },
      times,
    );
    assert.doesNotMatch(text, /needs|approval\.required/);
    assert.match(text, /approved by {4}Carol Lead <https:\/\/idp#carol>/);
    assert.match(text, /decided {8}15:59 UTC, 20 min ago/);
    assert.match(text, /expires {8}16:28 UTC, in 10 min/);
    assert.doesNotMatch(text, /2026-12-02T/, 'no raw ISO times');
  });

  it('says the policy approved a request that needed nobody', () => {
    const text = requestDetail(
      {
        ...base,
        status: 'expired',
        decision: { outcome: 'allow', reasons: [] },
        approvals: [],
        expiresAt: '2026-12-02T16:00:00Z',
        endedAt: '2026-12-02T16:00:00Z',
        endReason: 'expired',
      },
      times,
    );
    assert.match(text, /approved by {4}the policy/);
    assert.match(text, /ended {10}16:00 UTC, 19 min ago \(expired\)/);
    assert.doesNotMatch(text, /expires/);
  });

  it('prints a countdown in the ENDS column', () => {
    const text = requestTable([{ ...base, status: 'active', expiresAt: '2026-12-02T16:28:57.991Z' }], times);
    assert.match(text, /16:28 UTC, in 10 min/);
    assert.doesNotMatch(text, /2026-12-02T16:28/);
  });
});
