/**
 * Who may approve, and when enough have. Separation of duties is not configurable: the requester never approves
 * their own request — not directly, not through membership in an approver group — and one person counts once.
 */
import type {
  ApprovalProgress,
  ApprovalRequirement,
  ApproverCheck,
  GivenApproval,
  PrincipalFacts,
} from './types.js';

export function canApprove(
  approver: PrincipalFacts,
  requesterId: string,
  requirement: ApprovalRequirement,
): ApproverCheck {
  if (approver.id === requesterId) {
    return {
      ok: false,
      reason: { code: 'approval.self', message: 'a requester cannot approve their own request' },
    };
  }
  if (!approver.groups.some((g) => requirement.groups.includes(g))) {
    return {
      ok: false,
      reason: {
        code: 'approval.not-approver',
        message: `approvers must belong to ${requirement.groups.join(' or ')}`,
        details: { groups: requirement.groups },
      },
    };
  }
  if (requirement.requireMfa && !approver.mfa.satisfied) {
    return {
      ok: false,
      reason: {
        code: 'approval.mfa-required',
        message: 'approving this request requires a multi-factor sign-in',
      },
    };
  }
  return { ok: true };
}

/** Distinct approvers other than the requester, in the order they approved. */
function distinctApprovers(requesterId: string, approvals: readonly GivenApproval[]): GivenApproval[] {
  const seen = new Set<string>([requesterId]);
  const out: GivenApproval[] = [];
  for (const a of approvals) {
    if (seen.has(a.approverId)) continue;
    seen.add(a.approverId);
    out.push(a);
  }
  return out;
}

/**
 * With `fromEachGroup`, each group needs `count` approvers and a person in two groups fills one slot only. That is
 * a bipartite matching of people to group slots; approver sets are tiny, so simple augmenting paths suffice.
 */
function matchToGroups(
  requirement: ApprovalRequirement,
  people: readonly GivenApproval[],
): Map<string, string> {
  const slots: string[] = requirement.groups.flatMap((g) =>
    Array.from({ length: requirement.count }, () => g),
  );
  const slotOwner: (number | undefined)[] = slots.map(() => undefined);
  const tryAssign = (person: number, visited: boolean[]): boolean => {
    const groups = people[person]!.approverGroups;
    for (let s = 0; s < slots.length; s++) {
      if (visited[s] || !groups.includes(slots[s]!)) continue;
      visited[s] = true;
      const owner = slotOwner[s];
      if (owner === undefined || tryAssign(owner, visited)) {
        slotOwner[s] = person;
        return true;
      }
    }
    return false;
  };
  for (let p = 0; p < people.length; p++)
    tryAssign(
      p,
      slots.map(() => false),
    );
  const assignment = new Map<string, string>();
  slotOwner.forEach((owner, s) => {
    if (owner !== undefined) assignment.set(people[owner]!.approverId, slots[s]!);
  });
  return assignment;
}

export function approvalProgress(
  requirement: ApprovalRequirement,
  requesterId: string,
  approvals: readonly GivenApproval[],
): ApprovalProgress {
  const people = distinctApprovers(requesterId, approvals).filter((a) =>
    a.approverGroups.some((g) => requirement.groups.includes(g)),
  );
  if (!requirement.fromEachGroup) {
    const counted = people.slice(0, Math.max(requirement.count, people.length)).map((a) => a.approverId);
    const missing = Math.max(0, requirement.count - counted.length);
    return { satisfied: missing === 0, counted, missing: { '*': missing } };
  }
  const assignment = matchToGroups(requirement, people);
  const missing: Record<string, number> = {};
  for (const group of requirement.groups) {
    const filled = [...assignment.values()].filter((g) => g === group).length;
    missing[group] = requirement.count - filled;
  }
  return {
    satisfied: Object.values(missing).every((n) => n === 0),
    counted: [...assignment.keys()],
    missing,
  };
}
