/**
 * Making a request: validate it, take its patients from the role's care relation when it has one, decide it under
 * the policy in force (with the requester's chain of back-to-back grants), check the named patients exist, and write
 * it through the lifecycle — pending, or already active when the policy allows it outright. A break-glass access
 * also opens a review item and raises an alert, in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditEventInput } from '../audit/event.js';
import type { Principal } from '../identity/principal.js';
import { isPhigateError, type PhigateError } from '../lib/errors.js';
import type { CompiledPolicy, Decision, RequestFacts } from '../policy/types.js';
import { insertAlertEvent } from '../store/alert-event-repository.js';
import { lockChain } from '../store/access-request-repository.js';
import { openReviewItem } from '../store/review-item-repository.js';
import type { Database } from '../store/schema.js';
import { createCareRelationChecks } from './care-relation-checks.js';
import type { StoredDecision } from './grant.js';
import { Refusal, type Done, type MutationSpec } from './mutation-runner.js';
import { createPatientExistenceCheck } from './patient-existence.js';
import { snapshotOf, type AccessCore } from './request-guards.js';
import { validateNewRequest } from './request-input.js';
import { decisionRefusal, describeInput } from './request-refusals.js';
import { scopeHash } from './scope-hash.js';
import { person } from './status-change.js';
import type { AccessService, NewRequest } from './types.js';

/** A request the policy has decided, with what its audit events record. */
interface Decided {
  readonly facts: RequestFacts;
  readonly decision: Exclude<Decision, { outcome: 'deny' }>;
  readonly requesterKeys: readonly string[];
  readonly hash: string;
  readonly detail: Record<string, unknown>;
}

export function createRequestCreation(core: AccessCore): Pick<AccessService, 'createRequest'> {
  const { deps, audit, people, lifecycle, runner, guards } = core;
  const { policies, logger, replicaId } = deps;
  const careChecks = createCareRelationChecks({ careRelations: deps.careRelations, logger });
  const existence = createPatientExistenceCheck({ directory: deps.patients, logger });

  /** Refuses with `err` when it is a refusal; anything else is a failure and propagates. */
  const refusedWith = (p: Principal, spec: MutationSpec, err: unknown): Refusal => {
    if (!isPhigateError(err)) throw err;
    return runner.refuse(p, spec, err, undefined, { input: describeInput(spec.body as NewRequest) });
  };

  /** The request as asked for, with the patients its care relation gives when it names none. */
  const factsOf = async (
    p: Principal,
    spec: MutationSpec,
    policy: CompiledPolicy,
    now: Date,
  ): Promise<{ facts: RequestFacts; careRelationPatients: readonly string[] | undefined }> => {
    let facts;
    try {
      facts = validateNewRequest(
        spec.body as NewRequest,
        (role) => policy.roles.get(role)?.defaultDurationMs,
      );
    } catch (err) {
      throw refusedWith(p, spec, err);
    }
    const role = policy.roles.get(facts.role);
    let careRelationPatients;
    try {
      careRelationPatients = await careChecks.lookUp(p, policy, role, facts.resource, facts.patientIds, now);
    } catch (err) {
      throw refusedWith(p, spec, err);
    }
    // A request that names nobody is for every patient the care relation gives.
    if (careRelationPatients !== undefined && facts.patientIds.length === 0)
      facts = { ...facts, patientIds: careRelationPatients };
    return { facts, careRelationPatients };
  };

  /** The policy's decision on the request, under the chain lock; a refusal when it says no. */
  const decide = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    policy: CompiledPolicy,
    now: Date,
  ): Promise<Decided> => {
    const { facts, careRelationPatients } = await factsOf(p, spec, policy, now);
    const role = policy.roles.get(facts.role);
    await lockChain(tx, p.id, facts.role, facts.resource);
    const chained =
      role === undefined
        ? 0
        : await guards.chainOf(
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
      ...(careRelationPatients !== undefined ? { careRelationPatients: careRelationPatients.length } : {}),
      chainedMs: chained,
      decision: decision.outcome,
      reasons: decision.reasons.map((r) => r.code),
      policyHash: policy.hash,
      scopeHash: hash,
      replicaId,
    };
    if (decision.outcome === 'deny') {
      throw refusedCreation(p, spec, decisionRefusal(decision), facts, detail);
    }
    return { facts, decision, requesterKeys, hash, detail };
  };

  const refusedCreation = (
    p: Principal,
    spec: MutationSpec,
    error: PhigateError,
    facts: RequestFacts,
    detail: Record<string, unknown>,
  ): Refusal =>
    new Refusal(
      error,
      audit.event(p, spec.options, {
        action: 'request.create',
        outcome: 'refused',
        reasonCode: error.code,
        resource: facts.resource,
        asked: facts,
        detail,
      }),
    );

  /** Writes the decided request through the lifecycle; a break-glass one also opens its review and alert. */
  const write = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    policy: CompiledPolicy,
    now: Date,
    d: Decided,
  ): Promise<Done> => {
    // Only now, for a request the policy accepts: the look-up costs the protected database a query.
    let patientsFound: number | undefined;
    try {
      patientsFound = await existence.check(policy, d.facts);
    } catch (err) {
      if (!isPhigateError(err)) throw err;
      throw refusedCreation(p, spec, err, d.facts, { ...d.detail, ...err.details });
    }
    await policies.ensurePersisted(tx, policy);
    const { facts, decision } = d;
    const active = decision.outcome === 'allow';
    const emergency = active && decision.mode === 'break-glass';
    const stored: StoredDecision = active
      ? { outcome: 'allow', mode: decision.mode, reasons: decision.reasons }
      : { outcome: 'needs-approval', reasons: decision.reasons, requirement: decision.requirement };
    const createdEvent = (row: Parameters<typeof audit.event>[2]['row']): AuditEventInput[] => [
      audit.event(p, spec.options, {
        action: 'request.create',
        outcome: 'success',
        row,
        detail: {
          ...d.detail,
          patientsFound,
          mode: active ? decision.mode : undefined,
          personKeys: d.requesterKeys,
        },
      }),
    ];
    const change = await lifecycle.create(
      tx,
      {
        id: randomUUID(),
        requesterId: p.id,
        requester: snapshotOf(p),
        requesterPersonKeys: d.requesterKeys,
        resource: facts.resource,
        role: facts.role,
        durationMs: facts.durationMs,
        purpose: facts.purpose,
        justification: facts.justification,
        ticket: facts.ticket,
        patientIds: facts.patientIds,
        patientsFound,
        scopeHash: d.hash,
        policyHash: policy.hash,
        decision: stored,
        emergency,
        createdAt: now,
      },
      {
        active,
        pendingTimeoutMs: policy.pendingTimeoutMs,
        now,
        by: person(p.id),
        events: createdEvent,
        activation: { approvers: [], detail: { triggeredBy: p.id, replicaId } },
      },
    );
    if (emergency) await raiseBreakGlass(tx, p, facts, change.request.id, now);
    return { request: change.request, created: true, audit: change.audit, publish: change.publish };
  };

  const raiseBreakGlass = async (
    tx: Transaction<Database>,
    p: Principal,
    facts: RequestFacts,
    requestId: string,
    now: Date,
  ): Promise<void> => {
    const reviewItemId = await openReviewItem(tx, { requestId, kind: 'break-glass', openedAt: now });
    await insertAlertEvent(tx, {
      kind: 'break-glass',
      severity: 'critical',
      requestId,
      principalId: p.id,
      detail: { role: facts.role, resource: facts.resource, purpose: facts.purpose, reviewItemId },
      createdAt: now,
    });
  };

  return {
    createRequest(p, input, options) {
      const spec: MutationSpec = { action: 'request.create', target: undefined, body: input, options };
      return runner.mutate(p, spec, async (tx, now) => {
        const policy = policies.current();
        const decided = await decide(tx, p, spec, policy, now);
        return write(tx, p, spec, policy, now, decided);
      });
    },
  };
}
