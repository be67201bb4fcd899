import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestDetail } from './format.js';

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
