/** Turns requests into the contract's views, and back from the JSON kept for idempotent replays. */
import type { RequestFacts } from '../policy/types.js';
import type { AccessRequest, Approval } from './grant.js';
import { scopeHash } from './scope-hash.js';
import type { AccessRequestView, ApprovalView } from './types.js';

export function requestFactsOf(request: AccessRequest): RequestFacts {
  return {
    resource: request.resource,
    role: request.role,
    durationMs: request.durationMs,
    purpose: request.purpose,
    justification: request.justification,
    ticket: request.ticket,
    patientIds: request.patientIds,
  };
}

/** The scope hash recomputed from the request as it is now (not the stored one, which could be edited with it). */
export function currentScopeHash(request: AccessRequest): string {
  return scopeHash({ requesterId: request.requesterId, ...requestFactsOf(request) });
}

export function toApprovalView(approval: Approval, scopeHashNow: string): ApprovalView {
  return {
    approverId: approval.approverId,
    approverName: approval.approver.displayName,
    verdict: approval.verdict,
    comment: approval.comment,
    at: approval.createdAt,
    valid: approval.scopeHash === scopeHashNow,
  };
}

export function toRequestView(request: AccessRequest, approvals: readonly Approval[]): AccessRequestView {
  const { decision } = request;
  const own = approvals.filter((a) => a.requestId === request.id);
  // Recomputed only when there are approvals to judge by it: most requests have none.
  const hashNow = own.length > 0 ? currentScopeHash(request) : '';
  return {
    id: request.id,
    status: request.status,
    requester: { id: request.requesterId, displayName: request.requester.displayName },
    ...requestFactsOf(request),
    patientsFound: request.patientsFound,
    emergency: request.emergency,
    policyHash: request.policyHash,
    scopeHash: request.scopeHash,
    decision: { outcome: decision.outcome, reasons: decision.reasons },
    requirement: decision.requirement,
    approvals: own.map((a) => toApprovalView(a, hashNow)),
    createdAt: request.createdAt,
    pendingUntil: request.pendingUntil,
    decidedAt: request.decidedAt,
    activatedAt: request.activatedAt,
    expiresAt: request.expiresAt,
    endedAt: request.endedAt,
    endReason: request.endReason,
    endedBy: request.endedBy,
  };
}

const DATE_FIELDS = [
  'createdAt',
  'pendingUntil',
  'decidedAt',
  'activatedAt',
  'expiresAt',
  'endedAt',
] as const satisfies readonly (keyof AccessRequestView)[];

/** Inverse of `JSON.stringify(view)`: dates come back as `Date`, absent optionals as `undefined`. */
export function reviveRequestView(json: unknown): AccessRequestView {
  const v = json as Record<string, unknown>;
  const date = (x: unknown): Date | undefined => (typeof x === 'string' ? new Date(x) : undefined);
  const revived: Record<string, unknown> = {
    ...v,
    ticket: v.ticket ?? undefined,
    patientsFound: v.patientsFound ?? undefined,
    requirement: v.requirement ?? undefined,
    endReason: v.endReason ?? undefined,
    endedBy: v.endedBy ?? undefined,
    approvals: (v.approvals as Record<string, unknown>[]).map((a) => ({
      ...a,
      comment: a.comment ?? undefined,
      at: date(a.at),
    })),
  };
  for (const f of DATE_FIELDS) revived[f] = date(v[f]);
  return revived as unknown as AccessRequestView;
}
