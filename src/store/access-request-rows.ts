/**
 * Access request rows and the access module's domain types (access/grant.ts), mapped here once: JSON columns are
 * read as the types they were written as, nullable columns become optional fields.
 */
import type { Selectable, Updateable } from 'kysely';
import type { AccessRequest, Grant, PersonSnapshot, StatusPatch, StoredDecision } from '../access/grant.js';
import type { AccessRequestsTable } from './schema.js';

export type AccessRequestRow = Selectable<AccessRequestsTable>;

/** The one place a row becomes a request: JSON columns are read as the types they were written as. */
export function toAccessRequest(row: AccessRequestRow): AccessRequest {
  return {
    id: row.id,
    requesterId: row.requester_id,
    requester: row.requester as PersonSnapshot,
    requesterPersonKeys: row.requester_person_keys ?? undefined,
    resource: row.resource,
    role: row.role,
    durationMs: row.duration_ms,
    purpose: row.purpose,
    justification: row.justification,
    ticket: row.ticket ?? undefined,
    patientIds: row.patient_ids,
    patientsFound: row.patients_found ?? undefined,
    scopeHash: row.scope_hash,
    policyHash: row.policy_hash,
    decision: row.decision as StoredDecision,
    emergency: row.emergency,
    status: row.status,
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

/** A row of a grant (selected by its status and expiry): its start and end are set by the activation. */
export function toGrant(row: AccessRequestRow): Grant {
  const request = toAccessRequest(row);
  if (request.activatedAt === undefined || request.expiresAt === undefined) {
    throw new Error(`request ${row.id} is ${row.status} but never activated: the store is inconsistent`);
  }
  return { ...request, activatedAt: request.activatedAt, expiresAt: request.expiresAt };
}

export function toPatch(patch: StatusPatch): Updateable<AccessRequestsTable> {
  return {
    status: patch.status,
    ...(patch.decidedAt !== undefined ? { decided_at: patch.decidedAt } : {}),
    ...(patch.activatedAt !== undefined ? { activated_at: patch.activatedAt } : {}),
    ...(patch.expiresAt !== undefined ? { expires_at: patch.expiresAt } : {}),
    ...(patch.endedAt !== undefined ? { ended_at: patch.endedAt } : {}),
    ...(patch.endReason !== undefined ? { end_reason: patch.endReason } : {}),
    ...(patch.endedBy !== undefined ? { ended_by: patch.endedBy } : {}),
  };
}
