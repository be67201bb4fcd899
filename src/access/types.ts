/**
 * The access module's public contract: requests, grants, and the service the API (and later the gateway) calls.
 * A request becomes a grant when it activates; the grant keeps the request's id.
 */
import type { Principal } from '../identity/principal.js';
import type { ApprovalRequirement, Reason, ResourceDefinition, RoleDefinition } from '../policy/types.js';
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

import type { AccessRequest, RequestStatus } from './grant.js';

export type { RequestStatus } from './grant.js';

/** What a requester submits. Everything else (status, approvers, times) is phigate's to set. */
export interface NewRequest {
  readonly resource: string;
  readonly role: string;
  /** `30m`, `2h`, `1h30m` or ISO 8601 (`PT45M`); omitted: the role's default. */
  readonly duration?: string | undefined;
  /** HL7 v3 purpose-of-use code. */
  readonly purpose: string;
  readonly justification: string;
  readonly ticket?: string | undefined;
  readonly patientIds?: readonly string[] | undefined;
}

/** How a reviewer closes the review of a break-glass access. */
export const REVIEW_OUTCOMES = Object.freeze(['appropriate', 'inappropriate'] as const);
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

export interface ReviewInput {
  readonly outcome: ReviewOutcome;
  readonly notes?: string | undefined;
}

export interface ApprovalView {
  readonly approverId: string;
  readonly approverName: string;
  readonly verdict: 'approve' | 'deny';
  readonly comment: string | undefined;
  readonly at: Date;
  /** False when the approval was given for a different scope than the request has now (it does not count). */
  readonly valid: boolean;
}

/** A request as the API shows it: the request's own fields, the requester's name, its decision and approvals. */
export interface AccessRequestView extends Pick<
  AccessRequest,
  | 'id'
  | 'status'
  | 'resource'
  | 'role'
  | 'durationMs'
  | 'purpose'
  | 'justification'
  | 'ticket'
  | 'patientIds'
  | 'emergency'
  | 'policyHash'
  | 'scopeHash'
  | 'createdAt'
  | 'pendingUntil'
  | 'decidedAt'
  | 'activatedAt'
  | 'expiresAt'
  | 'endedAt'
  | 'endReason'
  | 'endedBy'
> {
  readonly requester: { readonly id: string; readonly displayName: string };
  /**
   * How many of `patientIds` the resource's patient table held when the request was made (all of them: a request
   * naming an unknown patient is refused); undefined when phigate could not look (no patient table declared, no
   * provisioning account for the resource) or the request names none.
   */
  readonly patientsFound: number | undefined;
  readonly decision: { readonly outcome: string; readonly reasons: readonly Reason[] };
  readonly requirement: ApprovalRequirement | undefined;
  readonly approvals: readonly ApprovalView[];
}

export interface ListFilter {
  /** `mine`: my requests; `approvable`: ones I may approve; `all`: auditors and admins only. */
  readonly scope?: 'mine' | 'approvable' | 'all';
  readonly status?: readonly RequestStatus[];
  readonly limit?: number;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | undefined;
}

export interface MutationOptions {
  /** Same key + same body → the first answer again; same key + another body → conflict. */
  readonly idempotencyKey?: string | undefined;
  /** Client network address, recorded in the audit event ("how"). */
  readonly clientAddress?: string | undefined;
}

export interface MutationResult {
  readonly request: AccessRequestView;
  /** True when this answer is a replay of an earlier one with the same idempotency key. */
  readonly replayed: boolean;
}

export interface RoleView {
  readonly name: string;
  readonly description: string;
  readonly resource: string;
  readonly defaultDurationMs: number;
  readonly maxDurationMs: number;
  readonly purposes: readonly string[];
  readonly emergency: boolean;
  readonly patientScope: 'required' | 'optional' | 'none';
  /** The table whose care relation gives the requester's patients, for a role that has one. */
  readonly careRelation: string | undefined;
  readonly approval: ApprovalRequirement | undefined;
}

export interface AccessService {
  createRequest(principal: Principal, input: NewRequest, options?: MutationOptions): Promise<MutationResult>;
  getRequest(principal: Principal, id: string): Promise<AccessRequestView>;
  listRequests(principal: Principal, filter?: ListFilter): Promise<Page<AccessRequestView>>;
  approve(
    principal: Principal,
    id: string,
    comment?: string,
    options?: MutationOptions,
  ): Promise<MutationResult>;
  deny(
    principal: Principal,
    id: string,
    comment?: string,
    options?: MutationOptions,
  ): Promise<MutationResult>;
  cancel(principal: Principal, id: string, options?: MutationOptions): Promise<MutationResult>;
  /** Grants are requests that have activated (active, expired, revoked). */
  listGrants(principal: Principal, filter?: ListFilter): Promise<Page<AccessRequestView>>;
  revoke(
    principal: Principal,
    id: string,
    reason?: string,
    options?: MutationOptions,
  ): Promise<MutationResult>;
  /**
   * Closes the review a break-glass access opened: an auditor or administrator who is not the person who broke the
   * glass (under any of their accounts) says whether it was appropriate.
   */
  reviewBreakGlass(
    principal: Principal,
    id: string,
    input: ReviewInput,
    options?: MutationOptions,
  ): Promise<MutationResult>;
  rolesFor(principal: Principal): readonly RoleView[];
}

/** Published after commit, in-process and to other replicas (PostgreSQL LISTEN/NOTIFY). */
export interface GrantEvent {
  readonly type: 'grant.activated' | 'grant.expired' | 'grant.revoked';
  readonly grantId: string;
  readonly requesterId: string;
  readonly resource: string;
  readonly role: string;
  readonly activatedAt: string;
  readonly expiresAt: string;
  /** When the grant ended (expired/revoked events). */
  readonly endedAt?: string;
  readonly emergency: boolean;
}

/** Who a care relation is looked up for: a signed-in person, or the requester as their request recorded them. */
export type CarePerson = Pick<Principal, 'id' | 'issuer' | 'subject' | 'email' | 'emailVerified'>;

/** The patients a role's care relation relates a person to, looked up in the role's protected database. */
export interface CareRelations {
  patientsOf(
    resource: ResourceDefinition,
    role: RoleDefinition,
    person: CarePerson,
    at: Date,
    limit: number,
    /** The patients the request names, if any: only those are looked for. */
    among: readonly string[] | undefined,
  ): Promise<readonly string[]>;
}

/** Whether the patients a request names exist, looked up in the role's protected database. */
export interface PatientDirectory {
  /**
   * How many of `ids` (distinct) the resource's patient table holds; undefined when phigate cannot look there (the
   * resource declares no patient table, or phigate has no provisioning account for it). Throws when it should have
   * looked and could not (the database unreachable, slow, or without the table the policy names).
   */
  countExisting(
    resource: ResourceDefinition,
    role: RoleDefinition,
    ids: readonly string[],
  ): Promise<number | undefined>;
}

export interface GrantEventBus {
  /**
   * Announces a change's grant events inside the change's own transaction. The NOTIFY is part of the transaction:
   * PostgreSQL delivers it to every replica's listener when, and only when, the change commits — so an event that
   * phigate acknowledged cannot be lost with the process that answered (a publish after commit could be). Returns
   * the in-process delivery, to call once the transaction has committed.
   */
  announce(tx: Transaction<Database>, events: readonly GrantEvent[]): Promise<() => void>;
  /** Returns an unsubscribe function. Handlers must not throw; errors are logged and swallowed. */
  subscribe(handler: (event: GrantEvent) => void): () => void;
  /**
   * Called when the listener is back after losing its connection: events announced meanwhile were missed, so a
   * subscriber that acts on them reads the store again. Returns an unsubscribe function.
   */
  onResync(handler: () => void): () => void;
}
