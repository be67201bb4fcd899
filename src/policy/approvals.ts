/**
 * Who may approve, and when enough have. Separation of duties is not configurable: the requester never approves
 * their own request — not directly, not through membership in an approver group, not under another account of
 * theirs — and one person counts once, whatever accounts they approve under.
 */
import { personGroups, samePerson } from './person-ref.js';
import type {
  ApprovalProgress,
  ApprovalRequirement,
  ApproverCheck,
  GivenApproval,
  PersonRef,
  PrincipalFacts,
} from './types.js';

export function canApprove(
  approver: PrincipalFacts,
  requester: PersonRef,
  requirement: ApprovalRequirement,
): ApproverCheck {
  if (samePerson(approver, requester)) {
    return {
      ok: false,
      reason: {
        code: 'approval.self',
        message:
          approver.id === requester.id
            ? 'a requester cannot approve their own request'
            : 'a requester cannot approve their own request, under another account either',
        ...(approver.id === requester.id ? {} : { details: { linkedAccount: true } }),
      },
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
  if (requirement.requirePerson && (approver.personKeys ?? []).length === 0) {
    return {
      ok: false,
      reason: {
        code: 'approval.person-unknown',
        message:
          'approving this request requires a sign-in with a verified e-mail address or a person claim, ' +
          'so that phigate can tell the approver from the requester',
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

/**
 * The approvals that count as distinct people other than the requester, in the order they were given: of linked
 * accounts only the first approval counts, and none linked to the requester does. Under `requirePerson`, an
 * approval without person keys does not count either (it could be anyone's second account).
 */
function distinctApprovers(
  requester: PersonRef,
  approvals: readonly GivenApproval[],
  requirePerson: boolean,
): GivenApproval[] {
  const groups = personGroups([
    requester,
    ...approvals.map((a) => ({ id: a.approverId, personKeys: a.personKeys })),
  ]);
  const seen = new Set<number>([groups[0]!]);
  const out: GivenApproval[] = [];
  approvals.forEach((a, i) => {
    const person = groups[i + 1]!;
    if (seen.has(person)) return;
    seen.add(person);
    if (requirePerson && (a.personKeys ?? []).length === 0) return;
    out.push(a);
  });
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
  requester: PersonRef,
  approvals: readonly GivenApproval[],
): ApprovalProgress {
  const people = distinctApprovers(requester, approvals, requirement.requirePerson).filter((a) =>
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
