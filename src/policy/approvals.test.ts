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
  requirePerson: false,
};
const twoLeads: ApprovalRequirement = { ...oneLead, count: 2 };
const eachGroup: ApprovalRequirement = {
  rule: 'r',
  count: 1,
  groups: ['leads', 'privacy'],
  fromEachGroup: true,
  requireMfa: false,
  requirePerson: false,
};
const lead = (id: string, mfa = true) => ({ id, groups: ['leads'], mfa: { satisfied: mfa } });

describe('canApprove', () => {
  it('never lets the requester approve, even as a member of the approver group (ATTACKS 12)', () => {
    const check = canApprove(lead('carol'), { id: 'carol' }, oneLead);
    assert.ok(!check.ok && check.reason.code === 'approval.self');
  });
  it('requires membership of an approver group', () => {
    const check = canApprove(
      { id: 'alice', groups: ['support'], mfa: { satisfied: true } },
      { id: 'dan' },
      oneLead,
    );
    assert.ok(!check.ok && check.reason.code === 'approval.not-approver');
  });
  it('requires MFA when the rule says so (ATTACKS 7)', () => {
    const check = canApprove(lead('carol', false), { id: 'dan' }, oneLead);
    assert.ok(!check.ok && check.reason.code === 'approval.mfa-required');
    assert.ok(canApprove(lead('carol'), { id: 'dan' }, oneLead).ok);
    assert.ok(canApprove(lead('carol', false), { id: 'dan' }, { ...oneLead, requireMfa: false }).ok);
  });
  it('compares principal ids, not names: another subject with the same groups is another person', () => {
    assert.ok(canApprove(lead('carol'), { id: 'chris' }, oneLead).ok);
    assert.ok(!canApprove(lead('chris'), { id: 'chris' }, oneLead).ok);
  });
});

describe('approvalProgress', () => {
  it('counts one person once: approving twice does not meet a two-approver rule', () => {
    const p = approvalProgress(twoLeads, { id: 'dan' }, [
      { approverId: 'carol', approverGroups: ['leads'] },
      { approverId: 'carol', approverGroups: ['leads'] },
    ]);
    assert.equal(p.satisfied, false);
    assert.deepEqual(p.counted, ['carol']);
    assert.equal(p.missing['*'], 1);
  });
  it('never counts the requester', () => {
    const p = approvalProgress(oneLead, { id: 'carol' }, [
      { approverId: 'carol', approverGroups: ['leads'] },
    ]);
    assert.equal(p.satisfied, false);
  });
  it('with fromEachGroup, one person in both groups fills one slot only', () => {
    const both = { approverId: 'pat', approverGroups: ['leads', 'privacy'] };
    assert.equal(approvalProgress(eachGroup, { id: 'dan' }, [both]).satisfied, false);
    const p = approvalProgress(eachGroup, { id: 'dan' }, [
      both,
      { approverId: 'carol', approverGroups: ['leads'] },
    ]);
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
            requirePerson: false,
          };
          const p = approvalProgress(req, { id: 'req' }, approvals);
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
    const p = approvalProgress(req, { id: 'dan' }, approvals);
    assert.equal(p.satisfied, false);
    assert.equal(p.missing['leads']! + p.missing['privacy']!, 1, 'three people fill three of four slots');
    assert.equal(
      approvalProgress(req, { id: 'dan' }, [...approvals, { approverId: 'l2', approverGroups: ['leads'] }])
        .satisfied,
      true,
    );
  });

  it('ignores approvals from people outside the approver groups', () => {
    const p = approvalProgress(oneLead, { id: 'dan' }, [{ approverId: 'eve', approverGroups: ['support'] }]);
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
            requirePerson: false,
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
          const p = approvalProgress(req, { id: 'req' }, approvals);
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

describe('one person under several accounts (ATTACKS 12)', () => {
  const withKeys = (id: string, keys: string[], groups = ['leads']) => ({
    id,
    groups,
    mfa: { satisfied: true },
    personKeys: keys,
  });

  it('refuses an approver who shares a person key with the requester (approval.self)', () => {
    const check = canApprove(
      withKeys('idp-b#dan2', ['email:pk_dan']),
      { id: 'idp-a#dan', personKeys: ['email:pk_dan'] },
      oneLead,
    );
    assert.ok(!check.ok && check.reason.code === 'approval.self');
    assert.deepEqual(!check.ok && check.reason.details, { linkedAccount: true });
    assert.ok(
      canApprove(
        withKeys('idp-b#carol', ['email:pk_carol']),
        { id: 'idp-a#dan', personKeys: ['email:pk_dan'] },
        oneLead,
      ).ok,
    );
  });

  it('with requirePerson, refuses an approver without person keys (approval.person-unknown)', () => {
    const strict = { ...oneLead, requirePerson: true };
    const check = canApprove(lead('carol'), { id: 'dan' }, strict);
    assert.ok(!check.ok && check.reason.code === 'approval.person-unknown');
    assert.ok(canApprove(withKeys('carol', ['claim:employee_number:pk_7']), { id: 'dan' }, strict).ok);
    assert.ok(
      canApprove(lead('carol'), { id: 'dan' }, oneLead).ok,
      'without requirePerson a keyless approver may approve',
    );
  });

  it('counts two accounts of one approver once, and never an account of the requester', () => {
    const carolA = { approverId: 'a#carol', approverGroups: ['leads'], personKeys: ['email:pk_carol'] };
    const carolB = { approverId: 'b#carol', approverGroups: ['leads'], personKeys: ['email:pk_carol'] };
    const danB = {
      approverId: 'b#dan',
      approverGroups: ['leads'],
      personKeys: ['claim:employee_number:pk_9'],
    };
    const dan = { id: 'a#dan', personKeys: ['email:pk_dan', 'claim:employee_number:pk_9'] };
    const p = approvalProgress(twoLeads, dan, [carolA, carolB, danB]);
    assert.equal(p.satisfied, false);
    assert.deepEqual(p.counted, ['a#carol']);
    const chris = { approverId: 'a#chris', approverGroups: ['leads'], personKeys: ['email:pk_chris'] };
    assert.deepEqual(approvalProgress(twoLeads, dan, [carolA, carolB, danB, chris]).counted, [
      'a#carol',
      'a#chris',
    ]);
  });

  it('links through a third account: A shares a key with B, B another with C — one person', () => {
    const a = { approverId: 'a', approverGroups: ['leads'], personKeys: ['email:pk_1'] };
    const b = { approverId: 'b', approverGroups: ['leads'], personKeys: ['email:pk_1', 'claim:n:pk_2'] };
    const c = { approverId: 'c', approverGroups: ['leads'], personKeys: ['claim:n:pk_2'] };
    assert.deepEqual(approvalProgress(twoLeads, { id: 'dan' }, [a, c, b]).counted, ['a']);
  });

  it('with requirePerson, an approval given without person keys does not count', () => {
    const strict = { ...oneLead, requirePerson: true };
    const keyless = { approverId: 'carol', approverGroups: ['leads'] };
    assert.equal(approvalProgress(strict, { id: 'dan' }, [keyless]).satisfied, false);
    assert.equal(approvalProgress(oneLead, { id: 'dan' }, [keyless]).satisfied, true);
  });

  it('property: no two counted approvals are one person, and none is the requester', () => {
    const keys = fc.subarray(['k1', 'k2', 'k3', 'k4'], { maxLength: 2 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            approverId: fc.constantFrom('a', 'b', 'c', 'd', 'req'),
            approverGroups: fc.constant(['leads']),
            personKeys: keys,
          }),
          { maxLength: 8 },
        ),
        keys,
        fc.integer({ min: 1, max: 4 }),
        (approvals, requesterKeys, count) => {
          const requester = { id: 'req', personKeys: requesterKeys };
          const p = approvalProgress({ ...oneLead, count }, requester, approvals);
          const counted = p.counted.map((id) => approvals.find((a) => a.approverId === id)!);
          // Transitive links: build the closure by brute force and check no two counted share a component.
          const all = [
            { id: 'req', personKeys: requesterKeys },
            ...approvals.map((a) => ({ id: a.approverId, personKeys: a.personKeys })),
          ];
          const linked = (x: (typeof all)[number], y: (typeof all)[number]) =>
            x.id === y.id || x.personKeys.some((k) => y.personKeys.includes(k));
          const component = (start: number): Set<number> => {
            const seen = new Set([start]);
            for (let grew = true; grew;) {
              grew = false;
              all.forEach((n, i) => {
                if (!seen.has(i) && [...seen].some((j) => linked(all[j]!, n))) {
                  seen.add(i);
                  grew = true;
                }
              });
            }
            return seen;
          };
          const components = counted.map((a) => component(1 + approvals.indexOf(a)));
          for (const c of components) assert.ok(!c.has(0), 'the requester never counts');
          for (let i = 0; i < components.length; i++)
            for (let j = i + 1; j < components.length; j++)
              assert.ok(![...components[i]!].some((n) => components[j]!.has(n)), 'one person counts once');
          assert.equal(p.satisfied, counted.length >= count);
        },
      ),
      { numRuns: 300 },
    );
  });
});
