/**
 * The access service: requests, approvals and grants, each change applied in one transaction with its audit record
 * (no audit, no change) and announced on the bus with the commit. Every status change goes through the lifecycle
 * (lifecycle.ts); the operations live beside this file by job — making a request (request-creation.ts), verdicts
 * (verdicts.ts), cancel and revoke (request-endings.ts), the break-glass review (break-glass-review.ts) — over the
 * checks they share (request-guards.ts).
 *
 * Races: every change to an existing request locks its row first (`select … for update`), so approve, deny, cancel,
 * revoke and the scheduler's time-out serialise and exactly one transition wins; requests of one chain (requester,
 * role, resource) serialise on an advisory lock so two extensions cannot both fit under the cumulative maximum.
 *
 * Refusals are recorded too. Every check runs before the first write of a transaction, so a refusal commits only
 * its audit event (and the idempotency record), never half a change.
 */
import { findRequest } from '../store/access-request-repository.js';
import { listApprovals } from '../store/approval-repository.js';
import { createAccessAudit } from './access-audit.js';
import { createBreakGlassReview } from './break-glass-review.js';
import { createGrantLifecycle } from './lifecycle.js';
import { UUID, createMutationRunner } from './mutation-runner.js';
import { createPeople } from './people.js';
import { createRequestCreation } from './request-creation.js';
import { createRequestEndings } from './request-endings.js';
import { createRequestGuards, notFound, type AccessCore, type AccessServiceDeps } from './request-guards.js';
import { createRequestListing } from './request-listing.js';
import { toRequestView } from './request-view.js';
import { GRANT_STATUSES, REQUEST_STATUSES } from './state-machine.js';
import type { AccessService, RoleView } from './types.js';
import { createVerdicts } from './verdicts.js';

export type { AccessServiceDeps } from './request-guards.js';

export function createAccessService(deps: AccessServiceDeps): AccessService {
  const { db, policies, clock, logger, replicaId } = deps;
  const audit = createAccessAudit(deps.pseudonymizer);
  const people = createPeople(deps.pseudonymizer);
  const lifecycle = createGrantLifecycle({ audit, bus: deps.bus });
  const runner = createMutationRunner({ db, clock, lifecycle, logger, replicaId, audit });
  const guards = createRequestGuards({ policies, people, audit, refuse: runner.refuse, replicaId });
  const core: AccessCore = { deps, audit, people, lifecycle, runner, guards };
  const { list } = createRequestListing({
    db,
    clock,
    policies,
    recordRefusal: runner.recordRefusal,
    pairFor: guards.pairFor,
    audit,
    people,
  });

  return {
    ...createRequestCreation(core),
    ...createVerdicts(core),
    ...createRequestEndings(core),
    ...createBreakGlassReview(core),

    async getRequest(p, id) {
      const now = clock.now();
      const row = typeof id === 'string' && UUID.test(id) ? await findRequest(db, id) : undefined;
      if (row === undefined || !(await guards.canSee(p, row, now))) {
        await runner.recordRefusal(
          audit.event(p, undefined, {
            action: 'request.read',
            outcome: 'refused',
            reasonCode: 'request.not-found',
            requestId: row?.id,
            detail: row === undefined ? { idGiven: String(id).slice(0, 64) } : {},
          }),
        );
        throw notFound();
      }
      return toRequestView(row, await listApprovals(db, [row.id]));
    },

    listRequests(p, filter) {
      return list(p, filter, REQUEST_STATUSES);
    },

    listGrants(p, filter) {
      return list(p, filter, GRANT_STATUSES);
    },

    rolesFor(p) {
      const policy = policies.current();
      return policy.rolesFor(p).map((role): RoleView => ({
        name: role.name,
        description: role.description,
        resource: role.resource,
        defaultDurationMs: role.defaultDurationMs,
        maxDurationMs: role.maxDurationMs,
        purposes: role.purposes,
        emergency: role.emergency,
        patientScope: role.patientScope,
        careRelation: role.careRelation?.table,
        approval: policy.requirementFor(role.name),
      }));
    },
  };
}
