/**
 * ATTACKS 13: an approver is checked under the policy a request was decided under AND the policy in force now, and
 * the stricter wins — joining an approver group, or loosening the policy, after the request does not let anyone
 * approve it, and removing the role or its rule from the policy in force leaves nobody able to.
 */
import type { ApprovalRequirement, ApproverCheck, CompiledPolicy, PrincipalFacts } from './types.js';

/**
 * `requirement` is the one recorded when the request was decided. Under the policy in force, the requirement is
 * that of `role` when given (the role may now name another rule), else the rule of the same name.
 */
export function canApproveUnderBoth(
  decidedUnder: CompiledPolicy,
  inForce: CompiledPolicy,
  approver: PrincipalFacts,
  requesterId: string,
  requirement: ApprovalRequirement,
  role?: string,
): ApproverCheck {
  const then = decidedUnder.canApprove(approver, requesterId, requirement);
  if (!then.ok) return then;
  if (role !== undefined && !inForce.roles.has(role)) {
    return gone(`role ${role} is no longer in the policy in force`, { role });
  }
  const now = role !== undefined ? inForce.requirementFor(role) : inForce.approvalRules.get(requirement.rule);
  if (now === undefined) {
    return gone(`approval rule ${requirement.rule} is no longer in the policy in force`, {
      rule: requirement.rule,
    });
  }
  return inForce.canApprove(approver, requesterId, now);
}

function gone(message: string, details: Record<string, unknown>): ApproverCheck {
  return { ok: false, reason: { code: 'approval.rule-gone', message, details } };
}
