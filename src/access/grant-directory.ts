/**
 * The port through which the gateway asks about grants, answered here in one place: is a person's grant on a
 * resource active now, what does a grant hold (its patients), has it ended and how. The gateway never reads the
 * store; the grant events come from the bus (types.ts `GrantEventBus`).
 */
import type { Clock } from '../lib/clock.js';
import { findActiveGrant, findRequest, isGrantActive } from '../store/access-request-repository.js';
import type { Db } from '../store/database.js';
import type { AccessRequest, Grant } from './grant.js';

/** How a grant ended: revoked (by a person or the system), or its time ran out. */
export interface GrantEnd {
  readonly how: 'revoked' | 'expired';
  readonly endedAt: Date;
}

export interface GrantDirectory {
  /**
   * The grant that lets `principalId` into `resource` now: the one named (a connection token's), or else the one
   * that lasts longest; undefined when none is active.
   */
  activeGrant(principalId: string, resource: string, grantId?: string): Promise<Grant | undefined>;
  /** The request or grant with this id, whatever its status; undefined when there is none. */
  grantById(id: string): Promise<AccessRequest | undefined>;
  /** Whether the grant is active now. */
  isActive(grantId: string): Promise<boolean>;
  /** How the grant ended, as the store has it (a grant past its end counts as expired); undefined while it lasts. */
  endOf(grantId: string): Promise<GrantEnd | undefined>;
}

export function createGrantDirectory(deps: { readonly db: Db; readonly clock: Clock }): GrantDirectory {
  const { db, clock } = deps;
  return {
    activeGrant: (principalId, resource, grantId) =>
      findActiveGrant(db, { requesterId: principalId, resource, now: clock.now(), grantId }),
    grantById: (id) => findRequest(db, id),
    isActive: (grantId) => isGrantActive(db, grantId, clock.now()),
    async endOf(grantId) {
      const grant = await findRequest(db, grantId);
      if (grant === undefined) return undefined;
      const endedAt = grant.endedAt ?? grant.expiresAt;
      if (grant.status === 'revoked' && endedAt !== undefined) return { how: 'revoked', endedAt };
      if (grant.status === 'expired' && endedAt !== undefined) return { how: 'expired', endedAt };
      if (grant.expiresAt !== undefined && grant.expiresAt <= clock.now())
        return { how: 'expired', endedAt: grant.expiresAt };
      return undefined;
    },
  };
}
