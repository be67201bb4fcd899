/**
 * Who may see, approve, deny and revoke a request. Approvers are checked under BOTH the policy version the request
 * was decided under and the policy in force now, and the stricter wins (ATTACKS 13): joining an approver group, or
 * loosening the policy, after a request was made does not let anyone approve it.
 */
import type {
  ApprovalRequirement,
  ApproverCheck,
  CompiledPolicy,
  GivenApproval,
  PrincipalFacts,
} from '../policy/types.js';
import type { AccessRequestRow } from '../store/access-request-repository.js';
import type { ApprovalRow } from '../store/approval-repository.js';
import {
  currentScopeHash,
  requestFactsOf,
  type PersonSnapshot,
  type StoredDecision,
} from './request-view.js';

export interface PolicyPair {
  readonly decided: CompiledPolicy;
  readonly current: CompiledPolicy;
}

function requesterFacts(row: AccessRequestRow): PrincipalFacts {
  const r = row.requester as PersonSnapshot;
  return { id: row.requester_id, groups: r.groups, mfa: { satisfied: r.mfa } };
}

export type Requirements =
  | { readonly ok: true; readonly decided: ApprovalRequirement; readonly current: ApprovalRequirement }
  | ({ readonly ok: false } & Extract<ApproverCheck, { ok: false }>);

/**
 * The approval requirement under each policy. The current one comes from deciding the same request again under the
 * policy in force: if that policy now refuses the request outright, nobody may approve it.
 */
export function requirementsFor(row: AccessRequestRow, policies: PolicyPair, now: Date): Requirements {
  const decided = (row.decision as StoredDecision).requirement;
  if (decided === undefined) {
    return {
      ok: false,
      reason: { code: 'approval.not-required', message: 'this request did not need approval' },
    };
  }
  const request = requestFactsOf(row);
  const again = policies.current.decide({
    principal: requesterFacts(row),
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
 * May this person approve or deny the request? `ignoreMfa` answers "is this one of its approvers" (for visibility
 * and revocation, where a missing second factor must not hide the request or block taking access away).
 */
export function checkApprover(
  person: PrincipalFacts,
  row: AccessRequestRow,
  policies: PolicyPair,
  now: Date,
  options: { ignoreMfa?: boolean } = {},
): ApproverCheck {
  if (person.id === row.requester_id) {
    return { ok: false, reason: { code: 'approval.self', message: 'nobody approves their own request' } };
  }
  const req = requirementsFor(row, policies, now);
  if (!req.ok) return req;
  const facts: PrincipalFacts = options.ignoreMfa ? { ...person, mfa: { satisfied: true } } : person;
  const underDecided = policies.decided.canApprove(facts, row.requester_id, req.decided);
  if (!underDecided.ok) return underDecided;
  return policies.current.canApprove(facts, row.requester_id, req.current);
}

/** Approvals that count: verdict approve, given for exactly the scope the request has now. */
export function countableApprovals(
  row: AccessRequestRow,
  approvals: readonly ApprovalRow[],
): GivenApproval[] {
  const hash = currentScopeHash(row);
  return approvals
    .filter((a) => a.request_id === row.id && a.verdict === 'approve' && a.scope_hash === hash)
    .map((a) => ({ approverId: a.approver_id, approverGroups: (a.approver as PersonSnapshot).groups }));
}

/** Satisfied only when the requirement is met under both policies. */
export function approvalsSatisfied(
  row: AccessRequestRow,
  approvals: readonly GivenApproval[],
  policies: PolicyPair,
  req: Extract<Requirements, { ok: true }>,
): boolean {
  return (
    policies.decided.approvalProgress(req.decided, row.requester_id, approvals).satisfied &&
    policies.current.approvalProgress(req.current, row.requester_id, approvals).satisfied
  );
}
