/**
 * The access service: requests, approvals and grants, each change applied in one transaction with its audit record
 * (no audit, no change) and announced on the bus only after commit.
 *
 * Races: every change to an existing request locks its row first (`select … for update`), so approve, deny, cancel,
 * revoke and the scheduler's time-out serialise and exactly one transition wins; requests of one chain (requester,
 * role, resource) serialise on an advisory lock so two extensions cannot both fit under the cumulative maximum.
 *
 * Refusals are recorded too. Every check runs before the first write of a transaction, so a refusal commits only
 * its audit event (and the idempotency record), never half a change.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditEventInput } from '../audit/event.js';
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError, isPhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy, Decision, Reason } from '../policy/types.js';
import {
  findRequest,
  insertRequest,
  listChainLinks,
  lockChain,
  lockRequest,
  updateRequestStatus,
  type AccessRequestPatch,
  type AccessRequestRow,
} from '../store/access-request-repository.js';
import { insertAlertEvent } from '../store/alert-event-repository.js';
import { findApproval, insertApproval, listApprovals } from '../store/approval-repository.js';
import type { Db } from '../store/database.js';
import { closeReviewItem, openReviewItem } from '../store/review-item-repository.js';
import type { Database } from '../store/schema.js';
import { createAccessAudit, type AccessAction, type ApproverRef } from './access-audit.js';
import {
  approvalsSatisfied,
  checkApprover,
  countableApprovals,
  requirementsFor,
  type PolicyPair,
} from './approver-checks.js';
import { chainedMs } from './chain.js';
import { createPeople, linkedBy, personRecord, type KnownPerson, type Person } from './people.js';
import { createRequestListing } from './request-listing.js';
import { UUID, createMutationRunner, Refusal, type Done, type MutationSpec } from './mutation-runner.js';
import type { PolicyRegistry } from './policy-registry.js';
import { validateNewRequest } from './request-input.js';
import { currentScopeHash, toRequestView, type PersonSnapshot, type StoredDecision } from './request-view.js';
import { scopeHash } from './scope-hash.js';
import { GRANT_STATUSES, REQUEST_STATUSES, transition, type LifecycleEvent } from './state-machine.js';
import { createCareRelationChecks } from './care-relation-checks.js';
import { samePerson } from '../policy/person-ref.js';
import { createPatientExistenceCheck } from './patient-existence.js';
import {
  REVIEW_OUTCOMES,
  type AccessService,
  type CareRelations,
  type GrantEventBus,
  type MutationOptions,
  type NewRequest,
  type PatientDirectory,
  type RequestStatus,
  type RoleView,
} from './types.js';

export interface AccessServiceOptions {
  readonly db: Db;
  readonly policies: Pick<PolicyRegistry, 'current' | 'version' | 'ensurePersisted'>;
  readonly clock: Clock;
  readonly bus: Pick<GrantEventBus, 'announce'>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Turns patient ids into the audit log's keyed tokens. */
  readonly pseudonymizer: Pseudonymizer;
  /** Recorded with each change, to tell replicas apart in the audit trail. */
  readonly replicaId?: string;
  /** Looks up care relations for roles that have one; without it, requests to such roles are refused. */
  readonly careRelations?: CareRelations;
  /** Looks up whether the patients a request names exist; without it, they are not looked up. */
  readonly patients?: PatientDirectory;
}

/** Refusals of acting on a request of one's own (separation of duties), with the sentence each starts with. */
type OwnRequestCode = 'approval.self' | 'review.self';
const OWN_REQUEST_MESSAGES: Readonly<Record<OwnRequestCode, string>> = {
  'approval.self': 'nobody approves their own request',
  'review.self': 'nobody reviews their own break-glass access',
};

/** What a verdict is given as: the policies it is checked under, the approver and the requester as people. */
interface VerdictRight {
  readonly pair: PolicyPair;
  readonly person: Person;
  readonly requester: KnownPerson;
}

/** As the API's body schema: a comment or a revocation reason. */
const COMMENT_MAX = 2_000;
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;

/** Refusal codes that mean "not yours to do" rather than "malformed". */
const FORBIDDEN_REASON =
  /not-eligible|mfa|forbidden|not-allowed|self|emergency|hours|outside-care-relation|no-care-relation|person\.unknown/;
/** Refusal codes that mean "phigate could not find out", not "no": worth trying again later. */
const UNAVAILABLE_REASON = /care-relation-unknown/;

export function createAccessService(options: AccessServiceOptions): AccessService {
  const { db, policies, clock, bus, logger } = options;
  const replicaId = options.replicaId;
  const audit = createAccessAudit(options.pseudonymizer);
  const people = createPeople(options.pseudonymizer);

  const pairFor = async (row: AccessRequestRow): Promise<PolicyPair> => ({
    decided: await policies.version(row.policy_hash),
    current: policies.current(),
  });

  const isOverseer = (p: Principal, policy: CompiledPolicy): boolean =>
    policy.isAdmin(p) || policy.isAuditor(p);

  const canSee = async (p: Principal, row: AccessRequestRow, now: Date): Promise<boolean> => {
    if (row.requester_id === p.id || isOverseer(p, policies.current())) return true;
    if ((row.decision as StoredDecision).requirement === undefined) return false;
    return checkApprover(people.of(p), people.requesterOf(row), row, await pairFor(row), now, {
      ignoreSignIn: true,
    }).ok;
  };

  const { mutate, recordRefusal, refuse } = createMutationRunner({
    db,
    clock,
    bus,
    logger,
    replicaId,
    audit,
  });
  const { list } = createRequestListing({ db, clock, policies, recordRefusal, pairFor, audit, people });

  const notFound = (): PhigateError => new PhigateError('not-found', 'request.not-found', 'no such request');

  /**
   * The refusal of someone acting on a request of their own — under the requester's account or another account of
   * the same person — where separation of duties forbids it; undefined when they are another person.
   */
  const ownRequestRefusal = (
    p: Principal,
    spec: MutationSpec,
    row: AccessRequestRow,
    code: OwnRequestCode,
  ): Refusal | undefined => {
    const person = people.of(p);
    const requester = people.requesterOf(row);
    if (!samePerson(person, requester)) return undefined;
    const linked = person.id !== requester.id;
    const message = OWN_REQUEST_MESSAGES[code] + (linked ? ', under another account either' : '');
    // Which kinds of key linked the accounts (never the keys): the caller may not know they were linked.
    return refuse(
      p,
      spec,
      new PhigateError('forbidden', code, message, linked ? { linkedBy: linkedBy(person, requester) } : {}),
      row,
      { person: personRecord(person, requester) },
    );
  };

  /**
   * Locks the request for the change, or refuses with 404 when it is unknown or not the caller's to see. Visibility
   * follows accounts, not people (a person key shared by mistake must never show anyone another's request), so
   * another account of the requester does not see it; with `own`, it is told why it may not act instead.
   */
  const lockVisible = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    id: string,
    now: Date,
    own?: OwnRequestCode,
  ): Promise<AccessRequestRow> => {
    if (!UUID.test(id)) throw refuse(p, spec, notFound(), undefined, { idGiven: id.slice(0, 64) });
    const row = await lockRequest(tx, id);
    if (row === undefined) throw refuse(p, spec, notFound(), undefined);
    if (!(await canSee(p, row, now))) {
      throw (
        (own !== undefined ? ownRequestRefusal(p, spec, row, own) : undefined) ??
        refuse(p, spec, notFound(), undefined)
      );
    }
    return row;
  };

  const requireTransition = (
    p: Principal,
    spec: MutationSpec,
    row: AccessRequestRow,
    event: LifecycleEvent,
    now: Date,
  ): RequestStatus => {
    const t = transition(row.status, event);
    if (!t.ok) {
      throw refuse(p, spec, new PhigateError('conflict', t.code, t.message, { status: row.status }), row);
    }
    // Due but not yet processed by the scheduler: treat as already closed, never act on borrowed time.
    if (row.status === 'pending' && row.pending_until !== null && row.pending_until <= now) {
      throw refuse(
        p,
        spec,
        new PhigateError('conflict', 'request.not-pending', 'the request waited too long for approvers', {
          status: 'timed-out',
        }),
        row,
      );
    }
    if (row.status === 'active' && row.expires_at !== null && row.expires_at <= now) {
      throw refuse(
        p,
        spec,
        new PhigateError('conflict', 'grant.not-active', 'the grant has expired', { status: 'expired' }),
        row,
      );
    }
    return t.to;
  };

  const applyTransition = async (
    tx: Transaction<Database>,
    row: AccessRequestRow,
    to: RequestStatus,
    patch: AccessRequestPatch,
  ): Promise<AccessRequestRow> => {
    const updated = await updateRequestStatus(tx, row.id, row.status, { ...patch, status: to });
    // We hold the row lock, so this cannot happen unless the store is inconsistent: fail, do not guess.
    if (updated === undefined) throw new Error(`request ${row.id} changed under its row lock`);
    return updated;
  };

  const validComment = (
    p: Principal,
    spec: MutationSpec,
    text: string | undefined,
    field: string,
  ): string | undefined => {
    if (text === undefined) return undefined;
    if (typeof text !== 'string' || text.length > COMMENT_MAX || NUL.test(text)) {
      throw refuse(
        p,
        spec,
        new PhigateError(
          'invalid',
          `${field}.invalid`,
          `the ${field} is limited to ${COMMENT_MAX} characters`,
          {
            field,
            maxLength: COMMENT_MAX,
          },
        ),
        undefined,
      );
    }
    return text.trim().length === 0 ? undefined : text;
  };

  /** Milliseconds of the unbroken chain of this person's grants of the role that reaches `now`. */
  const chainOf = async (
    tx: Transaction<Database>,
    q: { requesterId: string; role: string; resource: string; excludeId?: string },
    lookbackMs: number,
    now: Date,
  ): Promise<number> => {
    const links = await listChainLinks(tx, { ...q, endFrom: new Date(now.getTime() - lookbackMs - 1) });
    return chainedMs(
      links.map((l) => ({ activatedAt: l.activated_at, endAt: l.end_at })),
      now,
    );
  };

  const snapshot = (p: Principal): string =>
    JSON.stringify({
      id: p.id,
      displayName: p.displayName,
      groups: p.groups,
      mfa: p.mfa.satisfied,
      email: p.email,
      emailVerified: p.emailVerified === true,
    } satisfies PersonSnapshot);

  const activationPatch = (row: AccessRequestRow, now: Date): AccessRequestPatch => ({
    decided_at: now,
    activated_at: now,
    expires_at: new Date(now.getTime() + row.duration_ms),
  });

  const activationEvent = (
    p: Principal,
    row: AccessRequestRow,
    approvers: readonly ApproverRef[],
  ): AuditEventInput => audit.activation(row, approvers, { triggeredBy: p.id, replicaId });

  const decisionRefusal = (decision: Extract<Decision, { outcome: 'deny' }>): PhigateError => {
    const first: Reason = decision.reasons[0] ?? {
      code: 'policy.denied',
      message: 'the policy refuses this request',
    };
    const kind = FORBIDDEN_REASON.test(first.code)
      ? 'forbidden'
      : UNAVAILABLE_REASON.test(first.code)
        ? 'unavailable'
        : 'invalid';
    return new PhigateError(kind, first.code, first.message, {
      ...first.details,
      reasons: decision.reasons,
    });
  };

  /**
   * May this person give a verdict (approve or deny) on this request now? Eligible under both policy versions, not
   * the requester under any account, and not already on record for it under any account: one person's verdict
   * counts once.
   */
  const requireVerdictRight = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    row: AccessRequestRow,
    now: Date,
  ): Promise<VerdictRight> => {
    const pair = await pairFor(row);
    const person = people.of(p);
    const requester = people.requesterOf(row);
    const check = checkApprover(person, requester, row, pair, now);
    if (!check.ok) {
      const own =
        check.reason.code === 'approval.self' ? ownRequestRefusal(p, spec, row, 'approval.self') : undefined;
      if (own !== undefined) throw own;
      const kind = check.reason.code === 'approval.policy-refuses' ? 'conflict' : 'forbidden';
      throw refuse(
        p,
        spec,
        new PhigateError(kind, check.reason.code, check.reason.message, check.reason.details),
        row,
      );
    }
    if ((await findApproval(tx, row.id, p.id)) !== undefined) {
      const duplicate = new PhigateError(
        'conflict',
        'approval.duplicate',
        'you have already given your verdict on this request',
      );
      throw refuse(p, spec, duplicate, row);
    }
    const earlier = (await listApprovals(tx, [row.id])).find((a) => samePerson(person, people.approverOf(a)));
    if (earlier !== undefined) {
      const other = people.approverOf(earlier);
      const samePersonError = new PhigateError(
        'forbidden',
        'approval.same-person',
        'you have already given your verdict on this request under another account',
        { linkedBy: linkedBy(person, other) },
      );
      throw refuse(p, spec, samePersonError, row, {
        person: personRecord(person, requester),
        linkedTo: other.id,
      });
    }
    return { pair, person, requester };
  };

  /** The outcome of a change to an existing request: its new row, one success event, what to publish. */
  const changed = (
    p: Principal,
    options: MutationOptions | undefined,
    action: AccessAction,
    result: AccessRequestRow,
    detail: Record<string, unknown> = {},
    publish: Done['publish'] = [],
  ): Done => ({
    row: result,
    created: false,
    events: [
      audit.event(p, options, { action, outcome: 'success', row: result, detail: { ...detail, replicaId } }),
    ],
    publish,
  });

  const careChecks = createCareRelationChecks({ careRelations: options.careRelations, logger });
  const existence = createPatientExistenceCheck({ directory: options.patients, logger });

  const service: AccessService = {
    createRequest(p, input, options) {
      const spec: MutationSpec = { action: 'request.create', target: undefined, body: input, options };
      return mutate(p, spec, async (tx, now) => {
        const policy = policies.current();
        let facts;
        try {
          facts = validateNewRequest(input, (role) => policy.roles.get(role)?.defaultDurationMs);
        } catch (err) {
          if (!isPhigateError(err)) throw err;
          throw refuse(p, spec, err, undefined, { input: describeInput(input) });
        }
        const role = policy.roles.get(facts.role);
        let careRelationPatients;
        try {
          careRelationPatients = await careChecks.lookUp(
            p,
            policy,
            role,
            facts.resource,
            facts.patientIds,
            now,
          );
        } catch (err) {
          if (!isPhigateError(err)) throw err;
          throw refuse(p, spec, err, undefined, { input: describeInput(input) });
        }
        // A request that names nobody is for every patient the care relation gives.
        if (careRelationPatients !== undefined && facts.patientIds.length === 0)
          facts = { ...facts, patientIds: careRelationPatients };
        await lockChain(tx, p.id, facts.role, facts.resource);
        const chained =
          role === undefined
            ? 0
            : await chainOf(
                tx,
                { requesterId: p.id, role: facts.role, resource: facts.resource },
                role.cumulativeMaxMs,
                now,
              );
        const requesterKeys = people.keysOf(p);
        const decision = policy.decide({
          principal: { ...p, personKeys: requesterKeys },
          request: facts,
          now,
          chainedMs: chained,
          careRelationPatients,
        });
        const hash = scopeHash({ requesterId: p.id, ...facts });
        const detail = {
          durationMs: facts.durationMs,
          patientCount: facts.patientIds.length,
          ...(careRelationPatients !== undefined
            ? { careRelationPatients: careRelationPatients.length }
            : {}),
          chainedMs: chained,
          decision: decision.outcome,
          reasons: decision.reasons.map((r) => r.code),
          policyHash: policy.hash,
          scopeHash: hash,
          replicaId,
        };
        if (decision.outcome === 'deny') {
          const error = decisionRefusal(decision);
          throw new Refusal(
            error,
            audit.event(p, options, {
              action: 'request.create',
              outcome: 'refused',
              reasonCode: error.code,
              resource: facts.resource,
              asked: facts,
              detail,
            }),
          );
        }
        // Only now, for a request the policy accepts: the look-up costs the protected database a query.
        let patientsFound: number | undefined;
        try {
          patientsFound = await existence.check(policy, facts);
        } catch (err) {
          if (!isPhigateError(err)) throw err;
          throw new Refusal(
            err,
            audit.event(p, options, {
              action: 'request.create',
              outcome: 'refused',
              reasonCode: err.code,
              resource: facts.resource,
              asked: facts,
              detail: { ...detail, ...err.details },
            }),
          );
        }

        await policies.ensurePersisted(tx, policy);
        const id = randomUUID();
        const emergency = decision.outcome === 'allow' && decision.mode === 'break-glass';
        const stored: StoredDecision =
          decision.outcome === 'allow'
            ? { outcome: 'allow', mode: decision.mode, reasons: decision.reasons }
            : { outcome: 'needs-approval', reasons: decision.reasons, requirement: decision.requirement };
        const active = decision.outcome === 'allow';
        const row = await insertRequest(tx, {
          id,
          requester_id: p.id,
          requester: snapshot(p),
          requester_person_keys: [...requesterKeys],
          resource: facts.resource,
          role: facts.role,
          duration_ms: facts.durationMs,
          purpose: facts.purpose,
          justification: facts.justification,
          ticket: facts.ticket ?? null,
          patient_ids: JSON.stringify(facts.patientIds),
          patients_found: patientsFound ?? null,
          scope_hash: hash,
          policy_hash: policy.hash,
          decision: JSON.stringify(stored),
          emergency,
          status: active ? 'active' : 'pending',
          created_at: now,
          pending_until: active ? null : new Date(now.getTime() + policy.pendingTimeoutMs),
          decided_at: active ? now : null,
          activated_at: active ? now : null,
          expires_at: active ? new Date(now.getTime() + facts.durationMs) : null,
        });
        const events: AuditEventInput[] = [
          audit.event(p, options, {
            action: 'request.create',
            outcome: 'success',
            row,
            detail: {
              ...detail,
              patientsFound,
              mode: active ? decision.mode : undefined,
              personKeys: requesterKeys,
            },
          }),
        ];
        if (active) events.push(activationEvent(p, row, []));
        if (emergency) {
          const reviewItemId = await openReviewItem(tx, {
            requestId: id,
            kind: 'break-glass',
            openedAt: now,
          });
          await insertAlertEvent(tx, {
            kind: 'break-glass',
            severity: 'critical',
            requestId: id,
            principalId: p.id,
            detail: { role: facts.role, resource: facts.resource, purpose: facts.purpose, reviewItemId },
            createdAt: now,
          });
        }
        return { row, created: true, events, publish: active ? ['grant.activated'] : [] };
      });
    },

    async getRequest(p, id) {
      const now = clock.now();
      const row = typeof id === 'string' && UUID.test(id) ? await findRequest(db, id) : undefined;
      if (row === undefined || !(await canSee(p, row, now))) {
        await recordRefusal(
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

    approve(p, id, comment, options) {
      const spec: MutationSpec = { action: 'request.approve', target: id, body: { comment }, options };
      return mutate(p, spec, async (tx, now) => {
        const text = validComment(p, spec, comment, 'comment');
        const row = await lockVisible(tx, p, spec, id, now, 'approval.self');
        requireTransition(p, spec, row, 'approve', now);
        const { pair, person, requester } = await requireVerdictRight(tx, p, spec, row, now);
        const hashNow = currentScopeHash(row);
        if (hashNow !== row.scope_hash) {
          // The scope was edited after the request was made: no approval can vouch for it.
          throw refuse(
            p,
            spec,
            new PhigateError(
              'conflict',
              'request.scope-changed',
              'the request no longer matches what was asked for',
            ),
            row,
            { scopeHashNow: hashNow },
          );
        }
        const req = requirementsFor(row, requester, pair, now);
        if (!req.ok) throw new Error('requirements vanished between checks');
        const prior = await listApprovals(tx, [row.id]);
        const given = [
          ...countableApprovals(row, prior, people),
          { approverId: p.id, approverGroups: p.groups, personKeys: person.personKeys },
        ];
        const satisfied = approvalsSatisfied(requester, given, pair, req);
        const careRefusal = satisfied ? await careChecks.recheck(row, pair, now) : undefined;
        if (careRefusal !== undefined) throw refuse(p, spec, careRefusal, row);
        if (satisfied) {
          // The clock starts now: make sure this grant still fits the cumulative cap of its chain.
          await lockChain(tx, row.requester_id, row.role, row.resource);
          const caps = [pair.decided, pair.current]
            .map((pol) => pol.roles.get(row.role)?.cumulativeMaxMs)
            .filter((x): x is number => x !== undefined);
          const cap = Math.min(...caps);
          const chained = await chainOf(
            tx,
            { requesterId: row.requester_id, role: row.role, resource: row.resource, excludeId: row.id },
            cap,
            now,
          );
          if (chained + row.duration_ms > cap) {
            throw refuse(
              p,
              spec,
              new PhigateError(
                'conflict',
                'duration.chain-over-max',
                'activating now would make back-to-back grants of this role exceed their cumulative maximum',
                { limitMs: cap, chainedMs: chained, durationMs: row.duration_ms },
              ),
              row,
            );
          }
        }

        await insertApproval(tx, {
          request_id: row.id,
          approver_id: p.id,
          approver: snapshot(p),
          approver_person_keys: [...person.personKeys],
          verdict: 'approve',
          scope_hash: hashNow,
          policy_hash: pair.current.hash,
          comment: text ?? null,
          created_at: now,
        });
        const events: AuditEventInput[] = [];
        let result = row;
        if (satisfied) result = await applyTransition(tx, row, 'active', activationPatch(row, now));
        events.push(
          audit.event(p, options, {
            action: 'request.approve',
            outcome: 'success',
            row: result,
            detail: {
              approvalsCounted: given.length,
              satisfied,
              currentPolicyHash: pair.current.hash,
              person: personRecord(person, requester),
              replicaId,
            },
          }),
        );
        if (satisfied) {
          events.push(
            activationEvent(
              p,
              result,
              // With their names as they were when they approved: a report reads names, not issuer#subject.
              given.map((g) => ({
                id: g.approverId,
                name:
                  g.approverId === p.id
                    ? p.displayName
                    : (
                        prior.find((a) => a.approver_id === g.approverId)?.approver as
                          PersonSnapshot | undefined
                      )?.displayName,
              })),
            ),
          );
        }
        return { row: result, created: false, events, publish: satisfied ? ['grant.activated'] : [] };
      });
    },

    deny(p, id, comment, options) {
      const spec: MutationSpec = { action: 'request.deny', target: id, body: { comment }, options };
      return mutate(p, spec, async (tx, now) => {
        const text = validComment(p, spec, comment, 'comment');
        const row = await lockVisible(tx, p, spec, id, now, 'approval.self');
        const to = requireTransition(p, spec, row, 'deny', now);
        const { pair, person, requester } = await requireVerdictRight(tx, p, spec, row, now);
        await insertApproval(tx, {
          request_id: row.id,
          approver_id: p.id,
          approver: snapshot(p),
          approver_person_keys: [...person.personKeys],
          verdict: 'deny',
          scope_hash: currentScopeHash(row),
          policy_hash: pair.current.hash,
          comment: text ?? null,
          created_at: now,
        });
        const result = await applyTransition(tx, row, to, {
          decided_at: now,
          ended_at: now,
          end_reason: 'denied',
          ended_by: p.id,
        });
        return changed(p, options, 'request.deny', result, {
          comment: text,
          person: personRecord(person, requester),
        });
      });
    },

    cancel(p, id, options) {
      const spec: MutationSpec = { action: 'request.cancel', target: id, body: {}, options };
      return mutate(p, spec, async (tx, now) => {
        const row = await lockVisible(tx, p, spec, id, now);
        if (row.requester_id !== p.id) {
          throw refuse(
            p,
            spec,
            new PhigateError('forbidden', 'request.not-requester', 'only the requester can cancel a request'),
            row,
          );
        }
        const to = requireTransition(p, spec, row, 'cancel', now);
        const result = await applyTransition(tx, row, to, {
          ended_at: now,
          end_reason: 'cancelled',
          ended_by: p.id,
        });
        return changed(p, options, 'request.cancel', result);
      });
    },

    revoke(p, id, reason, options) {
      const spec: MutationSpec = { action: 'grant.revoke', target: id, body: { reason }, options };
      return mutate(p, spec, async (tx, now) => {
        const text = validComment(p, spec, reason, 'reason');
        const row = await lockVisible(tx, p, spec, id, now);
        const current = policies.current();
        const authority =
          row.requester_id === p.id
            ? 'grantee'
            : current.isAdmin(p)
              ? 'admin'
              : checkApprover(people.of(p), people.requesterOf(row), row, await pairFor(row), now, {
                    ignoreSignIn: true,
                  }).ok
                ? 'approver'
                : undefined;
        if (authority === undefined) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'forbidden',
              'grant.revoke-forbidden',
              'only the grantee, an approver of the request or an administrator can revoke a grant',
            ),
            row,
          );
        }
        const to = requireTransition(p, spec, row, 'revoke', now);
        const result = await applyTransition(tx, row, to, {
          ended_at: now,
          end_reason: text ?? 'revoked',
          ended_by: p.id,
        });
        return changed(p, options, 'grant.revoke', result, { authority, reason: text }, ['grant.revoked']);
      });
    },

    reviewBreakGlass(p, id, input, options) {
      const spec: MutationSpec = { action: 'review.close', target: id, body: input, options };
      return mutate(p, spec, async (tx, now) => {
        const outcome = (input as { outcome?: unknown } | undefined)?.outcome;
        if (!REVIEW_OUTCOMES.includes(outcome as never)) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'invalid',
              'review.outcome-invalid',
              `the outcome of a review is one of ${REVIEW_OUTCOMES.join(', ')}`,
              { allowed: REVIEW_OUTCOMES },
            ),
            undefined,
          );
        }
        const notes = validComment(p, spec, input.notes, 'notes');
        const row = await lockVisible(tx, p, spec, id, now, 'review.self');
        // Whoever broke the glass never signs off on it, under any account of theirs — auditor or not.
        const own = ownRequestRefusal(p, spec, row, 'review.self');
        if (own !== undefined) throw own;
        const person = people.of(p);
        const requester = people.requesterOf(row);
        if (!isOverseer(p, policies.current())) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'forbidden',
              'review.forbidden',
              'only auditors and administrators review break-glass access',
            ),
            row,
          );
        }
        const closed = await closeReviewItem(tx, {
          requestId: row.id,
          kind: 'break-glass',
          closedAt: now,
          closedBy: p.id,
          outcome: input.outcome,
          notes: notes ?? null,
        });
        if (closed === undefined) {
          throw refuse(
            p,
            spec,
            new PhigateError(
              'conflict',
              'review.not-open',
              'this request has no open break-glass review (it was not break-glass, or it was reviewed)',
            ),
            row,
          );
        }
        return changed(p, options, 'review.close', row, {
          reviewItemId: closed.id,
          outcome: input.outcome,
          notes,
          person: personRecord(person, requester),
        });
      });
    },

    rolesFor(p) {
      const policy = policies.current();
      return policy.rolesFor(p).map((role): RoleView => {
        return {
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
        };
      });
    },
  };

  return service;
}

/** What a malformed request looked like, for the audit record: shapes and lengths, not content. */
function describeInput(input: NewRequest): Record<string, unknown> {
  if (typeof input !== 'object' || input === null) return { type: typeof input };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input as unknown as Record<string, unknown>).slice(0, 20)) {
    const key = k.slice(0, 40);
    out[key] =
      typeof v === 'string'
        ? k === 'resource' || k === 'role' || k === 'purpose' || k === 'duration'
          ? v.slice(0, 100)
          : { length: v.length }
        : Array.isArray(v)
          ? { items: v.length }
          : typeof v;
  }
  return out;
}
