/**
 * Ends a grant because the system found it must (its care relation ended, its holder lost eligibility): one
 * transaction holding the lifecycle's revocation (conditional update, `grant.revoke` audit event) and the
 * announcement to every replica (delivered with the commit), then the in-process delivery. A grant already ended, or
 * whose time ran out, is left alone: ending it is the expiry scheduler's, and a grant ends only once.
 */
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Clock } from '../lib/clock.js';
import type { Db } from '../store/database.js';
import { createAccessAudit } from './access-audit.js';
import type { SystemEndReason } from './end-reasons.js';
import { createGrantLifecycle } from './lifecycle.js';
import type { GrantEventBus } from './types.js';

export interface SystemRevocation {
  /** Ends grant `grantId` for `reason`; true when this call ended it. `detail` goes into the audit event (no PHI). */
  revoke(grantId: string, reason: SystemEndReason, detail: Record<string, unknown>): Promise<boolean>;
}

export function createSystemRevocation(deps: {
  readonly db: Db;
  readonly bus: Pick<GrantEventBus, 'announce'>;
  readonly clock: Clock;
  readonly pseudonymizer: Pseudonymizer;
}): SystemRevocation {
  const lifecycle = createGrantLifecycle({ audit: createAccessAudit(deps.pseudonymizer), bus: deps.bus });
  return {
    async revoke(grantId, reason, detail) {
      const now = deps.clock.now();
      const deliver = await deps.db.transaction().execute(async (tx) => {
        const ended = await lifecycle.revokeBySystem(tx, grantId, reason, now, detail);
        return ended === undefined ? undefined : lifecycle.record(tx, [ended], now);
      });
      deliver?.();
      return deliver !== undefined;
    },
  };
}
