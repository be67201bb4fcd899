/**
 * The audit vocabulary of the access module: who acted, on what, why and how. Values are identifiers, codes and
 * numbers; the justification is kept as data (capped), patient ids only as a count (they identify patients).
 */
import type { AuditActor, AuditEventInput, AuditOutcome } from '../audit/event.js';
import type { Principal } from '../identity/principal.js';
import type { AccessRequestRow } from '../store/access-request-repository.js';
import type { MutationOptions } from './types.js';

export type AccessAction =
  | 'request.create'
  | 'request.read'
  | 'request.list'
  | 'request.approve'
  | 'request.deny'
  | 'request.cancel'
  | 'grant.activate'
  | 'grant.revoke'
  | 'idempotency.replay';

export function actorOf(p: Principal): AuditActor {
  return { id: p.id, displayName: p.displayName, groups: p.groups };
}

/** "How": where the call came from and with which token (its id, never the token). */
export function howOf(p: Principal, options: MutationOptions | undefined): Record<string, unknown> {
  return { clientAddress: options?.clientAddress, tokenId: p.tokenId, mfa: p.mfa.satisfied };
}

export function requestDetail(row: AccessRequestRow): Record<string, unknown> {
  return {
    requesterId: row.requester_id,
    role: row.role,
    purpose: row.purpose,
    durationMs: row.duration_ms,
    justificationLength: row.justification.length,
    justification: row.justification,
    ticket: row.ticket ?? undefined,
    patientCount: row.patient_ids.length,
    emergency: row.emergency,
    status: row.status,
    policyHash: row.policy_hash,
    scopeHash: row.scope_hash,
  };
}

export function accessEvent(
  p: Principal,
  options: MutationOptions | undefined,
  e: {
    action: AccessAction;
    outcome: AuditOutcome;
    reasonCode?: string | undefined;
    resource?: string | undefined;
    requestId?: string | undefined;
    detail?: Record<string, unknown>;
  },
): AuditEventInput {
  return {
    action: e.action,
    outcome: e.outcome,
    ...(e.reasonCode !== undefined ? { reasonCode: e.reasonCode } : {}),
    actor: actorOf(p),
    ...(e.resource !== undefined ? { resource: e.resource } : {}),
    ...(e.requestId !== undefined ? { requestId: e.requestId } : {}),
    detail: { ...e.detail, ...howOf(p, options) },
  };
}
