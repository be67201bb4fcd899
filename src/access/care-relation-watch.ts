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
 * Grants are checked under the policy they were decided under, against the relation that vouched for them: a later
 * policy that renames the relation's table must not end (or query for) grants it never made.
 *
 * A look-up that fails leaves the grant to the next round (and says so in the log): ending every care grant whenever
 * the protected database stumbles would turn the check into an outage, and the grant's own end still bounds it.
 * With several replicas, one runs each timed round (an advisory lock in the store; the others skip theirs), so the
 * protected databases see one look-up per grant; the conditional update would end a grant once anyway.
 */
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Clock } from '../lib/clock.js';
import type { PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { listActivePatientGrants, withCareRoundLock } from '../store/access-request-repository.js';
import type { Db } from '../store/database.js';
import type { PolicyPair } from './approver-checks.js';
import { createCareRelationChecks } from './care-relation-checks.js';
import type { Grant } from './grant.js';
import type { PolicyRegistry } from './policy-registry.js';
import { createSystemRevocation } from './system-revocation.js';
import type { CareRelations, GrantEventBus } from './types.js';

export interface CareRelationWatchOptions {
  readonly db: Db;
  readonly policies: Pick<PolicyRegistry, 'current' | 'version'>;
  readonly careRelations: CareRelations | undefined;
  readonly bus: Pick<GrantEventBus, 'announce'>;
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
  /** True when a timed round found another replica's round running, and so did nothing. */
  readonly skipped: boolean;
}

export interface CareRelationWatch {
  start(): void;
  /** One round now, after any round already running here or on another replica; safe on several at once. */
  checkNow(): Promise<CareRoundResult>;
  stop(): Promise<void>;
}

export function createCareRelationWatch(deps: CareRelationWatchOptions): CareRelationWatch {
  const checks = createCareRelationChecks({ careRelations: deps.careRelations, logger: deps.logger });
  const revocation = createSystemRevocation(deps);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<CareRoundResult> | undefined;
  let stopped = false;

  /** The policy to check `row` under (the one it was decided under), when a care relation vouched for its patients. */
  const pairOf = async (row: Grant): Promise<PolicyPair | undefined> => {
    const decided = await deps.policies.version(row.policyHash);
    const role = decided.roles.get(row.role);
    if (role?.careRelation === undefined || role.resource !== row.resource) return undefined;
    return { current: decided, decided };
  };

  const end = async (row: Grant, why: PhigateError): Promise<boolean> => {
    const ended = await revocation.revoke(row.id, 'care-relation-ended', {
      authority: 'care-relation',
      code: why.code,
      ...why.details,
    });
    if (ended)
      deps.logger.info({ grantId: row.id, code: why.code }, 'ended a grant whose care relation ended');
    return ended;
  };

  /** Whether `row` was checked, and what came of it; an error with one grant never stops the round. */
  const checkOne = async (row: Grant): Promise<'skipped' | 'held' | 'ended' | 'unknown'> => {
    try {
      const pair = await pairOf(row);
      if (pair === undefined) return 'skipped';
      const refusal = await checks.recheck(row, pair, deps.clock.now());
      if (refusal === undefined) return 'held';
      if (refusal.kind === 'unavailable') return 'unknown';
      return (await end(row, refusal)) ? 'ended' : 'held';
    } catch (err) {
      deps.logger.warn({ err, grantId: row.id }, 'could not check a grant’s care relation');
      return 'unknown';
    }
  };

  const round = async (): Promise<CareRoundResult> => {
    const counts = { checked: 0, ended: 0, unknown: 0 };
    for (const row of await listActivePatientGrants(deps.db, deps.clock.now())) {
      if (stopped) break;
      const outcome = await checkOne(row);
      if (outcome === 'skipped') continue;
      counts.checked++;
      if (outcome === 'ended') counts.ended++;
      if (outcome === 'unknown') counts.unknown++;
    }
    if (counts.unknown > 0)
      deps.logger.warn(
        { unknown: counts.unknown },
        'care relations of some grants could not be checked this round',
      );
    return { ...counts, skipped: false };
  };

  /** A round under the store's lock; `wait` for another replica's round to end, or else skip this one. */
  const lockedRound = async (wait: boolean): Promise<CareRoundResult> =>
    (await withCareRoundLock(deps.db, wait, round)) ?? { checked: 0, ended: 0, unknown: 0, skipped: true };

  const queueRound = (wait: boolean): Promise<CareRoundResult> => {
    const previous = running ?? Promise.resolve(undefined);
    const next = previous.then(
      () => lockedRound(wait),
      () => lockedRound(wait),
    );
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
        queueRound(false).catch((err: unknown) => deps.logger.error({ err }, 'care relation round failed'));
      }, deps.intervalMs);
      timer.unref();
    },
    checkNow: () => queueRound(true),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
