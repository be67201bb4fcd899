/**
 * The audit vocabulary of the access module: who acted, on what, why and how, in the audit log's one event shape.
 * Values are identifiers, codes and numbers; the justification is kept as data (capped); patient ids only as keyed
 * tokens (the pseudonymizer), so that a disclosures report can find every grant that covered a patient while the log
 * itself never holds an identifier.
 */
import type { AuditEventInput, AuditHow, AuditOutcome, AuditWhat, AuditWhy } from '../audit/event.js';
import { whoOf } from '../audit/audit-who.js';
import type { AuditAction } from '../audit/actions.js';
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Principal } from '../identity/principal.js';
import type { AccessRequest } from './grant.js';
import type { MutationOptions } from './types.js';

/** The audit actions of access changes and reads (the registry says what each means: audit/actions.ts). */
export type AccessAction = Extract<
  AuditAction,
  | 'request.create'
  | 'request.read'
  | 'request.list'
  | 'request.approve'
  | 'request.deny'
  | 'request.cancel'
  | 'grant.activate'
  | 'grant.revoke'
  | 'review.close'
  | 'idempotency.replay'
>;

export interface AccessEventSpec {
  readonly action: AccessAction;
  readonly outcome: AuditOutcome;
  readonly reasonCode?: string | undefined;
  /** The request the event is about: its scope, purpose and patients are recorded from it. */
  readonly row?: AccessRequest | undefined;
  readonly resource?: string | undefined;
  readonly requestId?: string | undefined;
  /** What was asked for, when no request row exists (a refused creation). */
  readonly asked?: AskedScope | undefined;
  readonly detail?: Record<string, unknown>;
}

export interface AskedScope {
  readonly role: string;
  readonly purpose: string;
  readonly justification: string;
  readonly ticket?: string | undefined;
  readonly patientIds: readonly string[];
}

export interface AccessAudit {
  /** An event about something a person did (or tried). */
  event(p: Principal, options: MutationOptions | undefined, spec: AccessEventSpec): AuditEventInput;
  /**
   * A grant starting: the grantee is the actor (it is their access that begins), with the people whose approvals
   * made it possible; the person whose action triggered it is in the detail.
   */
  activation(
    row: AccessRequest,
    approvers: readonly ApproverRef[],
    detail: Record<string, unknown>,
  ): AuditEventInput;
  /** Something phigate did by itself (expiry, time-out). */
  system(action: AuditAction, row: AccessRequest, detail: Record<string, unknown>): AuditEventInput;
}

/** A person whose approval let a grant start: their account, and their display name when known. */
export interface ApproverRef {
  readonly id: string;
  readonly name?: string | undefined;
}

function howOf(p: Principal, options: MutationOptions | undefined, row?: AccessRequest): AuditHow {
  return {
    clientAddress: options?.clientAddress,
    tokenId: p.tokenId,
    mfa: p.mfa.satisfied,
    policyVersion: row?.policyHash,
  };
}

function whyOf(row: AccessRequest): AuditWhy {
  return {
    purposeOfUse: row.purpose,
    justification: row.justification,
    ticket: row.ticket,
    emergency: row.emergency || undefined,
  };
}

export function createAccessAudit(pseudonymizer: Pseudonymizer): AccessAudit {
  const tokens = (ids: readonly string[]) =>
    ids.length > 0 ? ids.map((id) => pseudonymizer.patient(id)) : undefined;
  const whatOf = (row: AccessRequest): AuditWhat => ({
    resource: row.resource,
    requestId: row.id,
    patients: tokens(row.patientIds),
  });
  const facts = (row: AccessRequest): Record<string, unknown> => ({
    durationMs: row.durationMs,
    patientCount: row.patientIds.length,
    status: row.status,
    scopeHash: row.scopeHash,
  });
  return {
    event(p, options, spec) {
      const { row, asked } = spec;
      const role = row?.role ?? asked?.role;
      return {
        action: spec.action,
        outcome: spec.outcome,
        ...(spec.reasonCode !== undefined ? { reasonCode: spec.reasonCode } : {}),
        who: role !== undefined ? { ...whoOf(p), roles: [role] } : whoOf(p),
        what: row
          ? whatOf(row)
          : { resource: spec.resource, requestId: spec.requestId, patients: tokens(asked?.patientIds ?? []) },
        ...(row
          ? { why: whyOf(row) }
          : asked
            ? {
                why: {
                  purposeOfUse: asked.purpose,
                  justification: asked.justification,
                  ticket: asked.ticket,
                },
              }
            : {}),
        how: howOf(p, options, row),
        detail: { ...(row ? facts(row) : {}), ...spec.detail },
      };
    },
    activation(row, approvers, detail) {
      const grantee = row.requester;
      return {
        action: 'grant.activate',
        outcome: 'success',
        who: {
          actor: row.requesterId,
          name: grantee.displayName,
          groups: grantee.groups,
          roles: [row.role],
          approvers: approvers.length > 0 ? approvers.map((a) => a.id) : undefined,
          approverNames: approvers.length > 0 ? approvers.map((a) => a.name ?? a.id) : undefined,
        },
        what: whatOf(row),
        why: whyOf(row),
        how: { policyVersion: row.policyHash },
        detail: {
          ...facts(row),
          activatedAt: row.activatedAt?.toISOString(),
          expiresAt: row.expiresAt?.toISOString(),
          ...detail,
        },
      };
    },
    system(action, row, detail) {
      return {
        action,
        outcome: 'success',
        who: { actor: 'system', roles: [row.role] },
        what: whatOf(row),
        why: whyOf(row),
        how: { policyVersion: row.policyHash },
        detail: { ...facts(row), requesterId: row.requesterId, ...detail },
      };
    },
  };
}
