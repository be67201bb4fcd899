import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { approvalProgress, canApprove } from './approvals.js';
import type { ApprovalRequirement } from './types.js';

const oneLead: ApprovalRequirement = {
  rule: 'r',
  count: 1,
  groups: ['leads'],
  fromEachGroup: false,
  requireMfa: true,
};
const twoLeads: ApprovalRequirement = { ...oneLead, count: 2 };
const eachGroup: ApprovalRequirement = {
  rule: 'r',
  count: 1,
  groups: ['leads', 'privacy'],
  fromEachGroup: true,
  requireMfa: false,
};
const lead = (id: string, mfa = true) => ({ id, groups: ['leads'], mfa: { satisfied: mfa } });

describe('canApprove', () => {
  it('never lets the requester approve, even as a member of the approver group (ATTACKS 12)', () => {
    const check = canApprove(lead('carol'), 'carol', oneLead);
    assert.ok(!check.ok && check.reason.code === 'approval.self');
  });
  it('requires membership of an approver group', () => {
    const check = canApprove({ id: 'alice', groups: ['support'], mfa: { satisfied: true } }, 'dan', oneLead);
    assert.ok(!check.ok && check.reason.code === 'approval.not-approver');
  });
  it('requires MFA when the rule says so (ATTACKS 7)', () => {
    const check = canApprove(lead('carol', false), 'dan', oneLead);
    assert.ok(!check.ok && check.reason.code === 'approval.mfa-required');
    assert.ok(canApprove(lead('carol'), 'dan', oneLead).ok);
  });
});

describe('approvalProgress', () => {
  it('counts one person once: approving twice does not meet a two-approver rule', () => {
    const p = approvalProgress(twoLeads, 'dan', [
      { approverId: 'carol', approverGroups: ['leads'] },
      { approverId: 'carol', approverGroups: ['leads'] },
    ]);
    assert.equal(p.satisfied, false);
    assert.deepEqual(p.counted, ['carol']);
    assert.equal(p.missing['*'], 1);
  });
  it('never counts the requester', () => {
    const p = approvalProgress(oneLead, 'carol', [{ approverId: 'carol', approverGroups: ['leads'] }]);
    assert.equal(p.satisfied, false);
  });
  it('with fromEachGroup, one person in both groups fills one slot only', () => {
    const both = { approverId: 'pat', approverGroups: ['leads', 'privacy'] };
    assert.equal(approvalProgress(eachGroup, 'dan', [both]).satisfied, false);
    const p = approvalProgress(eachGroup, 'dan', [both, { approverId: 'carol', approverGroups: ['leads'] }]);
    assert.equal(p.satisfied, true, 'pat moves to privacy so that carol can fill leads');
  });
  it('property: the requester and duplicates never count, and satisfied means enough distinct approvers', () => {
    const people = fc.constantFrom('a', 'b', 'c', 'd', 'req');
    const groups = fc.subarray(['leads', 'privacy', 'other'], { minLength: 0 });
    fc.assert(
      fc.property(
        fc.array(fc.record({ approverId: people, approverGroups: groups }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        (approvals, count, fromEachGroup) => {
          const req: ApprovalRequirement = {
            rule: 'r',
            count,
            groups: ['leads', 'privacy'],
            fromEachGroup,
            requireMfa: false,
          };
          const p = approvalProgress(req, 'req', approvals);
          assert.ok(!p.counted.includes('req'));
          assert.equal(new Set(p.counted).size, p.counted.length);
          if (p.satisfied) assert.ok(p.counted.length >= (fromEachGroup ? count * 2 : count));
        },
      ),
    );
  });
});
