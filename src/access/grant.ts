/**
 * The access module's domain types: a request, the grant it becomes when it activates, and the approvals given on it.
 * CamelCase and typed throughout — the store maps its rows to these once (store/access-request-repository.ts,
 * store/approval-repository.ts), so nothing outside the store reads a column name or casts a JSON column.
 */
import type { ApprovalRequirement, Reason } from '../policy/types.js';

export type RequestStatus =
  'pending' | 'active' | 'expired' | 'revoked' | 'denied' | 'cancelled' | 'timed-out';

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

/** A request for access, in whatever status; a grant is one that activated (it keeps the request's id). */
export interface AccessRequest {
  readonly id: string;
  readonly requesterId: string;
  readonly requester: PersonSnapshot;
  /** The requester's person key tokens; undefined for requests recorded before phigate kept them. */
  readonly requesterPersonKeys: readonly string[] | undefined;
  readonly resource: string;
  readonly role: string;
  readonly durationMs: number;
  readonly purpose: string;
  readonly justification: string;
  readonly ticket: string | undefined;
  readonly patientIds: readonly string[];
  /** How many of `patientIds` the resource's patient table held at the request; undefined when not looked up. */
  readonly patientsFound: number | undefined;
  readonly scopeHash: string;
  readonly policyHash: string;
  readonly decision: StoredDecision;
  readonly emergency: boolean;
  readonly status: RequestStatus;
  readonly createdAt: Date;
  readonly pendingUntil: Date | undefined;
  readonly decidedAt: Date | undefined;
  readonly activatedAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  readonly endedAt: Date | undefined;
  readonly endReason: string | undefined;
  readonly endedBy: string | undefined;
}

/** A request that activated: it has a start and an end, whatever its status now (active, expired, revoked). */
export interface Grant extends AccessRequest {
  readonly activatedAt: Date;
  readonly expiresAt: Date;
}

export function isGrant(request: AccessRequest): request is Grant {
  return request.activatedAt !== undefined && request.expiresAt !== undefined;
}

/** The request as a grant; throws when it never activated (a caller that asks has a bug, not a refusal). */
export function asGrant(request: AccessRequest): Grant {
  if (!isGrant(request)) throw new Error(`request ${request.id} never activated: it is not a grant`);
  return request;
}

/** An approval or denial given on a request, under one account. */
export interface Approval {
  readonly requestId: string;
  readonly approverId: string;
  readonly approver: PersonSnapshot;
  /** The approver's person key tokens; undefined for approvals recorded before phigate kept them. */
  readonly approverPersonKeys: readonly string[] | undefined;
  readonly verdict: 'approve' | 'deny';
  readonly scopeHash: string;
  readonly policyHash: string;
  readonly comment: string | undefined;
  readonly createdAt: Date;
}

/** The fields of a status change, as the lifecycle sets them (lifecycle.ts); the store writes them as given. */
export interface StatusPatch {
  readonly status: RequestStatus;
  readonly decidedAt?: Date;
  readonly activatedAt?: Date;
  readonly expiresAt?: Date;
  readonly endedAt?: Date;
  readonly endReason?: string;
  readonly endedBy?: string;
}
