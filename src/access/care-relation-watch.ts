/**
 * Ends grants whose care relation ended while they lasted. A care-relation grant's patients are the requester's when
 * the request is made and again at the approval that activates it; without this watch, a clinician taken off a
 * patient's care team an hour into an eight-hour grant would keep reading that chart for seven more.
 *
 * Every round looks up, again, each active grant whose patients a care relation vouched for (its role had one in the
 * policy it was decided under; a relation added to a role later does not reach back to grants made without one). A patient who left the relation, or a requester the relation can no
 * longer name, ends the grant — revoked by `system`, reason `care-relation-ended` — which cuts its sessions and drops
 * its role like any revocation. The grant ends whole rather than narrowing: its patients are what approvers approved
 * and what its accounting of disclosures lists, and the requester can ask again for the patients still theirs.
 *
 * A look-up that fails leaves the grant to the next round (and says so in the log): ending every care grant whenever
 * the protected database stumbles would turn the check into an outage, and the grant's own end still bounds it.
 * With several replicas each runs its rounds; the conditional update ends a grant once.
 */
import { appendAudit } from '../audit/audit-log.js';
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Clock } from '../lib/clock.js';
import type { PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import {
  listActivePatientGrants,
  updateRequestStatus,
  type AccessRequestRow,
} from '../store/access-request-repository.js';
import type { Db } from '../store/database.js';
import { createAccessAudit } from './access-audit.js';
import type { PolicyPair } from './approver-checks.js';
import { createCareRelationChecks } from './care-relation-checks.js';
import { grantEvent } from './grant-event.js';
import type { PolicyRegistry } from './policy-registry.js';
import type { CareRelations, GrantEventBus } from './types.js';

export const CARE_RELATION_ENDED = 'care-relation-ended';

export interface CareRelationWatchOptions {
  readonly db: Db;
  readonly policies: Pick<PolicyRegistry, 'current' | 'version'>;
  readonly careRelations: CareRelations | undefined;
  readonly bus: Pick<GrantEventBus, 'publish'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly pseudonymizer: Pseudonymizer;
  /** Time between rounds. */
  readonly intervalMs: number;
}

export interface CareRoundResult {
  /** Grants whose relation was looked up. */
  readonly checked: number;
  /** Grants ended because the relation no longer held. */
  readonly ended: number;
  /** Grants whose relation could not be looked up (left to the next round). */
  readonly unknown: number;
}

export interface CareRelationWatch {
  start(): void;
  /** One round now (after any round already running); safe on several replicas at once. */
  checkNow(): Promise<CareRoundResult>;
  stop(): Promise<void>;
}

export function createCareRelationWatch(o: CareRelationWatchOptions): CareRelationWatch {
  const checks = createCareRelationChecks({ careRelations: o.careRelations, logger: o.logger });
  const audit = createAccessAudit(o.pseudonymizer);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<CareRoundResult> | undefined;
  let stopped = false;

  /** The policies to check `row` under, when a care relation vouched for its patients. */
  const pairOf = async (row: AccessRequestRow): Promise<PolicyPair | undefined> => {
    const decided = await o.policies.version(row.policy_hash);
    if (decided.roles.get(row.role)?.careRelation === undefined) return undefined;
    return { current: o.policies.current(), decided };
  };

  const end = async (row: AccessRequestRow, why: PhigateError): Promise<boolean> => {
    const now = o.clock.now();
    const ended = await o.db.transaction().execute(async (tx) => {
      const updated = await updateRequestStatus(tx, row.id, 'active', {
        status: 'revoked',
        ended_at: now,
        end_reason: CARE_RELATION_ENDED,
        ended_by: 'system',
      });
      if (updated === undefined) return undefined; // expired, revoked or ended by another replica meanwhile
      const detail = { authority: 'care-relation', code: why.code, ...why.details };
      await appendAudit(tx, [audit.system('grant.revoke', updated, detail)], now);
      return updated;
    });
    if (ended === undefined) return false;
    o.bus.publish(grantEvent('grant.revoked', ended));
    o.logger.info({ grantId: row.id, code: why.code }, 'ended a grant whose care relation ended');
    return true;
  };

  const round = async (): Promise<CareRoundResult> => {
    let checked = 0;
    let ended = 0;
    let unknown = 0;
    for (const row of await listActivePatientGrants(o.db, o.clock.now())) {
      if (stopped) break;
      let pair;
      try {
        pair = await pairOf(row);
      } catch (err) {
        o.logger.warn({ err, grantId: row.id }, 'cannot read the policy a grant was decided under');
        unknown++;
        continue;
      }
      if (pair === undefined) continue;
      checked++;
      const refusal = await checks.recheck(row, pair, o.clock.now());
      if (refusal === undefined) continue;
      if (refusal.kind === 'unavailable') {
        unknown++;
        continue;
      }
      if (await end(row, refusal)) ended++;
    }
    if (unknown > 0)
      o.logger.warn({ unknown }, 'care relations of some grants could not be checked this round');
    return { checked, ended, unknown };
  };

  const checkNow = (): Promise<CareRoundResult> => {
    const previous = running ?? Promise.resolve(undefined);
    const next = previous.then(round, round);
    running = next;
    const settled = (): void => {
      if (running === next) running = undefined;
    };
    next.then(settled, settled);
    return next;
  };

  return {
    start() {
      if (timer !== undefined || stopped) return;
      timer = setInterval(() => {
        if (running !== undefined) return; // a slow round is still going: skip rather than pile up
        checkNow().catch((err: unknown) => o.logger.error({ err }, 'care relation round failed'));
      }, o.intervalMs);
      timer.unref();
    },
    checkNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
