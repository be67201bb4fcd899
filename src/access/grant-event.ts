/** Builds the bus event for a grant row; one place, so every publisher says the same thing about a grant. */
import type { AccessRequestRow } from '../store/access-request-repository.js';
import type { GrantEvent } from './types.js';

export function grantEvent(type: GrantEvent['type'], row: AccessRequestRow): GrantEvent {
  if (row.activated_at === null || row.expires_at === null) {
    throw new Error(`request ${row.id} never activated: it has no grant event`);
  }
  return {
    type,
    grantId: row.id,
    requesterId: row.requester_id,
    resource: row.resource,
    role: row.role,
    activatedAt: row.activated_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    ...(type !== 'grant.activated' && row.ended_at !== null ? { endedAt: row.ended_at.toISOString() } : {}),
    emergency: row.emergency,
  };
}
