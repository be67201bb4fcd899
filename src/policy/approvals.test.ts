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
    assert.ok(canApprove(lead('carol', false), 'dan', { ...oneLead, requireMfa: false }).ok);
  });
  it('compares principal ids, not names: another subject with the same groups is another person', () => {
    assert.ok(canApprove(lead('carol'), 'chris', oneLead).ok);
    assert.ok(!canApprove(lead('chris'), 'chris', oneLead).ok);
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
  it('with fromEachGroup and count 2, needs two distinct people per group', () => {
    const req: ApprovalRequirement = { ...eachGroup, count: 2 };
    const approvals = [
      { approverId: 'l1', approverGroups: ['leads'] },
      { approverId: 'both', approverGroups: ['leads', 'privacy'] },
      { approverId: 'p1', approverGroups: ['privacy'] },
    ];
    const p = approvalProgress(req, 'dan', approvals);
    assert.equal(p.satisfied, false);
    assert.equal(p.missing['leads']! + p.missing['privacy']!, 1, 'three people fill three of four slots');
    assert.equal(
      approvalProgress(req, 'dan', [...approvals, { approverId: 'l2', approverGroups: ['leads'] }]).satisfied,
      true,
    );
  });

  it('ignores approvals from people outside the approver groups', () => {
    const p = approvalProgress(oneLead, 'dan', [{ approverId: 'eve', approverGroups: ['support'] }]);
    assert.deepEqual(p, { satisfied: false, counted: [], missing: { '*': 1 } });
  });

  it('property: fromEachGroup is satisfied exactly when some one-slot-per-person assignment fills every group', () => {
    const groupsList = ['leads', 'privacy', 'legal'];
    // Brute force over every way of giving each distinct person at most one group they belong to.
    const feasible = (
      people: { id: string; groups: string[] }[],
      groups: string[],
      count: number,
    ): boolean => {
      const fill = (i: number, need: Map<string, number>): boolean => {
        if ([...need.values()].every((n) => n <= 0)) return true;
        if (i === people.length) return false;
        if (fill(i + 1, need)) return true;
        for (const g of people[i]!.groups) {
          if ((need.get(g) ?? 0) <= 0) continue;
          need.set(g, need.get(g)! - 1);
          const ok = fill(i + 1, need);
          need.set(g, need.get(g)! + 1);
          if (ok) return true;
        }
        return false;
      };
      return fill(0, new Map(groups.map((g) => [g, count])));
    };
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            approverId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'req'),
            approverGroups: fc.subarray(groupsList),
          }),
          { maxLength: 10 },
        ),
        fc.integer({ min: 1, max: 2 }),
        fc.subarray(groupsList, { minLength: 1 }),
        (approvals, count, groups) => {
          const req: ApprovalRequirement = {
            rule: 'r',
            count,
            groups,
            fromEachGroup: true,
            requireMfa: false,
          };
          // The first approval of each person is the one that counts (later ones are duplicates).
          const firstOf = new Map<string, string[]>();
          for (const a of approvals)
            if (!firstOf.has(a.approverId)) firstOf.set(a.approverId, a.approverGroups);
          firstOf.delete('req');
          const people = [...firstOf].map(([id, gs]) => ({
            id,
            groups: gs.filter((g) => groups.includes(g)),
          }));
          const p = approvalProgress(req, 'req', approvals);
          assert.equal(p.satisfied, feasible(people, groups, count));
          const missing = Object.values(p.missing).reduce((x, y) => x + y, 0);
          assert.equal(p.counted.length, groups.length * count - missing);
          assert.ok(Object.values(p.missing).every((n) => n >= 0));
        },
      ),
      { numRuns: 500 },
    );
  });
});
