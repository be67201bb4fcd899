import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicyOrThrow } from './compile.js';
import { canApproveUnderBoth } from './stricter-wins.js';
import type { PrincipalFacts } from './types.js';

const example = readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8');
const decided = compilePolicyOrThrow(example, 'old.yaml');
const requirement = decided.requirementFor('analyst-encounters')!;

const person = (id: string, groups: string[], mfa = true): PrincipalFacts => ({
  id,
  groups,
  mfa: { satisfied: mfa },
});
const carol = person('carol', ['clinical-leads']);
const mallory = person('mallory', ['clinical-leads', 'newcomers']);

describe('canApproveUnderBoth (ATTACKS 13)', () => {
  it('allows an approver valid under both policies', () => {
    assert.deepEqual(canApproveUnderBoth(decided, decided, carol, 'dan', requirement, 'analyst-encounters'), {
      ok: true,
    });
  });

  it('refuses when the policy in force no longer lists the approver group', () => {
    const now = compilePolicyOrThrow(
      example.replace(
        'one-lead:\n    approvers: { groups: [clinical-leads]',
        'one-lead:\n    approvers: { groups: [senior-leads]',
      ),
      'new.yaml',
    );
    const check = canApproveUnderBoth(decided, now, carol, 'dan', requirement, 'analyst-encounters');
    assert.equal(!check.ok && check.reason.code, 'approval.not-approver');
  });

  it('refuses when only the policy in force would allow it (group added after the request)', () => {
    const now = compilePolicyOrThrow(
      example.replace(
        'one-lead:\n    approvers: { groups: [clinical-leads]',
        'one-lead:\n    approvers: { groups: [clinical-leads, newcomers]',
      ),
      'new.yaml',
    );
    const newcomer = person('nina', ['newcomers']);
    const check = canApproveUnderBoth(decided, now, newcomer, 'dan', requirement, 'analyst-encounters');
    assert.equal(!check.ok && check.reason.code, 'approval.not-approver');
    assert.ok(canApproveUnderBoth(decided, now, mallory, 'dan', requirement).ok);
  });

  it('refuses when the role or its rule is gone from the policy in force', () => {
    const noRule = compilePolicyOrThrow(
      example
        .replace('  one-lead:\n    approvers: { groups: [clinical-leads], count: 1, requireMfa: true }\n', '')
        .replace('approval: one-lead', 'approval: two-leads'),
      'new.yaml',
    );
    const byRule = canApproveUnderBoth(decided, noRule, carol, 'dan', requirement);
    assert.equal(!byRule.ok && byRule.reason.code, 'approval.rule-gone');
    const noRole = compilePolicyOrThrow(
      example.replace('analyst-encounters:', 'analyst-encounters-v2:'),
      'new.yaml',
    );
    const byRole = canApproveUnderBoth(decided, noRole, carol, 'dan', requirement, 'analyst-encounters');
    assert.equal(!byRole.ok && byRole.reason.code, 'approval.rule-gone');
  });

  it('applies the stricter rule when the role now points at another one, and never lets the requester approve', () => {
    const now = compilePolicyOrThrow(
      example.replace(
        'one-lead:\n    approvers: { groups: [clinical-leads], count: 1, requireMfa: true }',
        'one-lead:\n    approvers: { groups: [clinical-leads], count: 1, requireMfa: false }',
      ),
      'new.yaml',
    );
    const noMfa = person('carol', ['clinical-leads'], false);
    const check = canApproveUnderBoth(decided, now, noMfa, 'dan', requirement, 'analyst-encounters');
    assert.equal(!check.ok && check.reason.code, 'approval.mfa-required');
    const self = canApproveUnderBoth(decided, now, carol, 'carol', requirement, 'analyst-encounters');
    assert.equal(!self.ok && self.reason.code, 'approval.self');
  });
});

describe('compiled maps', () => {
  it('cannot be changed by a caller casting away ReadonlyMap', () => {
    assert.throws(() => (decided.roles as Map<string, unknown>).set('evil', {}), TypeError);
    assert.throws(() => (decided.resources as Map<string, unknown>).delete('clinic-db'), TypeError);
    assert.throws(() => (decided.approvalRules as Map<string, unknown>).clear(), TypeError);
    assert.ok(decided.resources.has('clinic-db') && !decided.roles.has('evil'));
    assert.deepEqual([...decided.approvalRules.keys()], ['support-auto', 'one-lead', 'two-leads']);
    assert.ok(Object.isFrozen(decided.rolesFor(person('dan', ['analysts']))));
  });
});
