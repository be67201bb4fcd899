/** Builds the bus event for a grant; one place, so every publisher says the same thing about a grant. */
import type { Grant } from './grant.js';
import type { GrantEvent } from './types.js';

export function grantEvent(type: GrantEvent['type'], grant: Grant): GrantEvent {
  return {
    type,
    grantId: grant.id,
    requesterId: grant.requesterId,
    resource: grant.resource,
    role: grant.role,
    activatedAt: grant.activatedAt.toISOString(),
    expiresAt: grant.expiresAt.toISOString(),
    ...(type !== 'grant.activated' && grant.endedAt !== undefined
      ? { endedAt: grant.endedAt.toISOString() }
      : {}),
    emergency: grant.emergency,
  };
}
