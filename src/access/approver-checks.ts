/**
 * Who may see, approve, deny and revoke a request. Approvers are checked under BOTH the policy version the request
 * was decided under and the policy in force now, and the stricter wins (ATTACKS 13): joining an approver group, or
 * loosening the policy, after a request was made does not let anyone approve it. People, not accounts, are compared
 * (ATTACKS 12): the requester's other accounts are the requester.
 */
import { samePerson } from '../policy/person-ref.js';
import type {
  ApprovalRequirement,
  ApproverCheck,
  CompiledPolicy,
  GivenApproval,
  PersonRef,
  PrincipalFacts,
} from '../policy/types.js';
import type { AccessRequest, Approval } from './grant.js';
import type { KnownPerson, People, Person } from './people.js';
import { currentScopeHash, requestFactsOf } from './request-view.js';

export interface PolicyPair {
  readonly decided: CompiledPolicy;
  readonly current: CompiledPolicy;
}

function requesterFacts(request: AccessRequest, requester: KnownPerson): PrincipalFacts {
  return {
    id: request.requesterId,
    groups: request.requester.groups,
    mfa: { satisfied: request.requester.mfa },
    personKeys: requester.personKeys,
  };
}

export type Requirements =
  | { readonly ok: true; readonly decided: ApprovalRequirement; readonly current: ApprovalRequirement }
  | ({ readonly ok: false } & Extract<ApproverCheck, { ok: false }>);

/**
 * The approval requirement under each policy. The current one comes from deciding the same request again under the
 * policy in force: if that policy now refuses the request outright, nobody may approve it.
 */
export function requirementsFor(
  row: AccessRequest,
  requester: KnownPerson,
  policies: PolicyPair,
  now: Date,
): Requirements {
  const decided = row.decision.requirement;
  if (decided === undefined) {
    return {
      ok: false,
      reason: { code: 'approval.not-required', message: 'this request did not need approval' },
    };
  }
  const request = requestFactsOf(row);
  const again = policies.current.decide({
    principal: requesterFacts(row, requester),
    request,
    now,
    chainedMs: 0,
    // Its patients were taken from, or checked against, the requester's care relation when it was made.
    careRelationPatients: request.patientIds,
  });
  if (again.outcome === 'deny') {
    const first = again.reasons[0];
    return {
      ok: false,
      reason: {
        code: 'approval.policy-refuses',
        message: `the policy in force no longer allows this request${first ? `: ${first.message}` : ''}`,
        details: { reasons: again.reasons.map((r) => r.code) },
      },
    };
  }
  return { ok: true, decided, current: again.outcome === 'needs-approval' ? again.requirement : decided };
}

/**
 * May this person approve or deny the request of `requester` (as the request recorded them)? Never the requester
 * under any of their accounts. `ignoreSignIn` answers "is this one of its approvers", leaving aside how they signed
 * in — a second factor, a verified e-mail or person claim (for visibility and revocation, where a missing one must
 * not hide the request or block taking access away, and for a refusal that says what is missing rather than 404).
 */
export function checkApprover(
  person: Person,
  requester: KnownPerson,
  row: AccessRequest,
  policies: PolicyPair,
  now: Date,
  options: { ignoreSignIn?: boolean } = {},
): ApproverCheck {
  // Before the policy is asked: a request the policy no longer allows is still nobody's to approve for themselves.
  if (samePerson(person, requester)) {
    return {
      ok: false,
      reason: {
        code: 'approval.self',
        message:
          person.id === requester.id
            ? 'nobody approves their own request'
            : 'nobody approves their own request, under another account either',
      },
    };
  }
  const req = requirementsFor(row, requester, policies, now);
  if (!req.ok) return req;
  const lenient = (r: ApprovalRequirement): ApprovalRequirement =>
    options.ignoreSignIn ? { ...r, requireMfa: false, requirePerson: false } : r;
  const underDecided = policies.decided.canApprove(person, requester, lenient(req.decided));
  if (!underDecided.ok) return underDecided;
  return policies.current.canApprove(person, requester, lenient(req.current));
}

/** Approvals that count: verdict approve, given for exactly the scope the request has now, with who gave them. */
export function countableApprovals(
  row: AccessRequest,
  approvals: readonly Approval[],
  people: Pick<People, 'approverOf'>,
): GivenApproval[] {
  const hash = currentScopeHash(row);
  return approvals
    .filter((a) => a.requestId === row.id && a.verdict === 'approve' && a.scopeHash === hash)
    .map((a) => ({
      approverId: a.approverId,
      approverGroups: a.approver.groups,
      personKeys: people.approverOf(a).personKeys,
    }));
}

/** Satisfied only when the requirement is met under both policies. */
export function approvalsSatisfied(
  requester: PersonRef,
  approvals: readonly GivenApproval[],
  policies: PolicyPair,
  req: Extract<Requirements, { ok: true }>,
): boolean {
  return (
    policies.decided.approvalProgress(req.decided, requester, approvals).satisfied &&
    policies.current.approvalProgress(req.current, requester, approvals).satisfied
  );
}
