/** Turns store rows into the contract's views, and back from the JSON kept for idempotent replays. */
import type { ApprovalRequirement, Reason, RequestFacts } from '../policy/types.js';
import type { AccessRequestRow } from '../store/access-request-repository.js';
import type { ApprovalRow } from '../store/approval-repository.js';
import { scopeHash } from './scope-hash.js';
import type { AccessRequestView, ApprovalView } from './types.js';

/** What the store keeps about a person (requester or approver) at the time they acted. */
export interface PersonSnapshot {
  readonly id: string;
  readonly displayName: string;
  readonly groups: readonly string[];
  readonly mfa: boolean;
  /** The sign-in's e-mail address and whether its issuer verified it (care relations may name people by it). */
  readonly email?: string | undefined;
  readonly emailVerified?: boolean;
}

/** The policy's decision as stored with the request. */
export interface StoredDecision {
  readonly outcome: 'allow' | 'needs-approval';
  readonly mode?: 'auto' | 'break-glass';
  readonly reasons: readonly Reason[];
  readonly requirement?: ApprovalRequirement;
}

export function requestFactsOf(row: AccessRequestRow): RequestFacts {
  return {
    resource: row.resource,
    role: row.role,
    durationMs: row.duration_ms,
    purpose: row.purpose,
    justification: row.justification,
    ticket: row.ticket ?? undefined,
    patientIds: row.patient_ids,
  };
}

/** The scope hash recomputed from the row as it is now (not the stored column, which could be edited with it). */
export function currentScopeHash(row: AccessRequestRow): string {
  return scopeHash({ requesterId: row.requester_id, ...requestFactsOf(row) });
}

export function toApprovalView(row: ApprovalRow, scopeHashNow: string): ApprovalView {
  const approver = row.approver as PersonSnapshot;
  return {
    approverId: row.approver_id,
    approverName: approver.displayName,
    verdict: row.verdict,
    comment: row.comment ?? undefined,
    at: row.created_at,
    valid: row.scope_hash === scopeHashNow,
  };
}

export function toRequestView(row: AccessRequestRow, approvals: readonly ApprovalRow[]): AccessRequestView {
  const requester = row.requester as PersonSnapshot;
  const decision = row.decision as StoredDecision;
  return {
    id: row.id,
    status: row.status,
    requester: { id: row.requester_id, displayName: requester.displayName },
    resource: row.resource,
    role: row.role,
    durationMs: row.duration_ms,
    purpose: row.purpose,
    justification: row.justification,
    ticket: row.ticket ?? undefined,
    patientIds: row.patient_ids,
    patientsFound: row.patients_found ?? undefined,
    emergency: row.emergency,
    policyHash: row.policy_hash,
    scopeHash: row.scope_hash,
    decision: { outcome: decision.outcome, reasons: decision.reasons },
    requirement: decision.requirement,
    approvals: approvals
      .filter((a) => a.request_id === row.id)
      .map((a) => toApprovalView(a, currentScopeHash(row))),
    createdAt: row.created_at,
    pendingUntil: row.pending_until ?? undefined,
    decidedAt: row.decided_at ?? undefined,
    activatedAt: row.activated_at ?? undefined,
    expiresAt: row.expires_at ?? undefined,
    endedAt: row.ended_at ?? undefined,
    endReason: row.end_reason ?? undefined,
    endedBy: row.ended_by ?? undefined,
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
