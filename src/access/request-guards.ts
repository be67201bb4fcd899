/**
 * What the access service's operations share: who may see a request, locking it for a change, the state machine's
 * refusals (and "due but not yet processed" read as already closed), separation of duties on one's own request,
 * comment limits, the cumulative chain of back-to-back grants, and the shape of a change's outcome. Every check here
 * throws a recorded refusal before the first write of its transaction.
 */
import type { Transaction } from 'kysely';
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { samePerson } from '../policy/person-ref.js';
import type { CompiledPolicy } from '../policy/types.js';
import { listChainLinks, lockRequest } from '../store/access-request-repository.js';
import type { Db } from '../store/database.js';
import type { Database } from '../store/schema.js';
import type { AccessAction, AccessAudit } from './access-audit.js';
import { checkApprover, type PolicyPair } from './approver-checks.js';
import { chainedMs } from './chain.js';
import type { AccessRequest, PersonSnapshot } from './grant.js';
import type { GrantLifecycle, StatusChange } from './lifecycle.js';
import { UUID, type Done, type MutationRunner, type MutationSpec, type Refusal } from './mutation-runner.js';
import { linkedBy, personRecord, type People } from './people.js';
import type { PolicyRegistry } from './policy-registry.js';
import { transition, type LifecycleEvent } from './state-machine.js';
import type { CareRelations, GrantEventBus, MutationOptions, PatientDirectory } from './types.js';

/** What the access service is built from (its factory's options). */
export interface AccessServiceDeps {
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

/** The parts every operation of the service uses, built once by the service's factory. */
export interface AccessCore {
  readonly deps: AccessServiceDeps;
  readonly audit: AccessAudit;
  readonly people: People;
  readonly lifecycle: GrantLifecycle;
  readonly runner: MutationRunner;
  readonly guards: RequestGuards;
}

/** Refusals of acting on a request of one's own (separation of duties), with the sentence each starts with. */
export type OwnRequestCode = 'approval.self' | 'review.self';
const OWN_REQUEST_MESSAGES: Readonly<Record<OwnRequestCode, string>> = {
  'approval.self': 'nobody approves their own request',
  'review.self': 'nobody reviews their own break-glass access',
};

/** As the API's body schema: a comment or a revocation reason. */
const COMMENT_MAX = 2_000;
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;

export function snapshotOf(p: Principal): PersonSnapshot {
  return {
    id: p.id,
    displayName: p.displayName,
    groups: p.groups,
    mfa: p.mfa.satisfied,
    email: p.email,
    emailVerified: p.emailVerified === true,
  };
}

export function notFound(): PhigateError {
  return new PhigateError('not-found', 'request.not-found', 'no such request');
}

export type RequestGuards = ReturnType<typeof createRequestGuards>;

export function createRequestGuards(deps: {
  readonly policies: AccessServiceDeps['policies'];
  readonly people: People;
  readonly audit: AccessAudit;
  readonly refuse: MutationRunner['refuse'];
  readonly replicaId: string | undefined;
}) {
  const { policies, people, refuse } = deps;

  const pairFor = async (row: AccessRequest): Promise<PolicyPair> => ({
    decided: await policies.version(row.policyHash),
    current: policies.current(),
  });

  const isOverseer = (p: Principal, policy: CompiledPolicy = policies.current()): boolean =>
    policy.isAdmin(p) || policy.isAuditor(p);

  const canSee = async (p: Principal, row: AccessRequest, now: Date): Promise<boolean> => {
    if (row.requesterId === p.id || isOverseer(p)) return true;
    if (row.decision.requirement === undefined) return false;
    return checkApprover(people.of(p), people.requesterOf(row), row, await pairFor(row), now, {
      ignoreSignIn: true,
    }).ok;
  };

  /**
   * The refusal of someone acting on a request of their own — under the requester's account or another account of
   * the same person — where separation of duties forbids it; undefined when they are another person.
   */
  const ownRequestRefusal = (
    p: Principal,
    spec: MutationSpec,
    row: AccessRequest,
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
  ): Promise<AccessRequest> => {
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

  /** Refuses an event the state machine does not allow now, or that would act on a request whose time is up. */
  const requireTransition = (
    p: Principal,
    spec: MutationSpec,
    row: AccessRequest,
    event: LifecycleEvent,
    now: Date,
  ): void => {
    const t = transition(row.status, event);
    if (!t.ok) {
      throw refuse(p, spec, new PhigateError('conflict', t.code, t.message, { status: row.status }), row);
    }
    // Due but not yet processed by the scheduler: treat as already closed, never act on borrowed time.
    if (row.status === 'pending' && row.pendingUntil !== undefined && row.pendingUntil <= now) {
      throw refuse(
        p,
        spec,
        new PhigateError('conflict', 'request.not-pending', 'the request waited too long for approvers', {
          status: 'timed-out',
        }),
        row,
      );
    }
    if (row.status === 'active' && row.expiresAt !== undefined && row.expiresAt <= now) {
      throw refuse(
        p,
        spec,
        new PhigateError('conflict', 'grant.not-active', 'the grant has expired', { status: 'expired' }),
        row,
      );
    }
  };

  const validComment = (
    p: Principal,
    spec: MutationSpec,
    text: string | undefined,
    field: string,
  ): string | undefined => {
    if (text === undefined) return undefined;
    if (typeof text !== 'string' || text.length > COMMENT_MAX || NUL.test(text)) {
      const error = new PhigateError(
        'invalid',
        `${field}.invalid`,
        `the ${field} is limited to ${COMMENT_MAX} characters`,
        { field, maxLength: COMMENT_MAX },
      );
      throw refuse(p, spec, error, undefined);
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
    return chainedMs(links, now);
  };

  /** A change made under the row lock must apply: anything else means the store is inconsistent. Fail, never guess. */
  const applied = (row: AccessRequest, change: StatusChange | undefined): StatusChange => {
    if (change === undefined) throw new Error(`request ${row.id} changed under its row lock`);
    return change;
  };

  /** The outcome of a change to an existing request: the person's success event first, then the change's own. */
  const changed = (
    p: Principal,
    options: MutationOptions | undefined,
    action: AccessAction,
    change: Pick<StatusChange, 'request' | 'publish'> & Partial<Pick<StatusChange, 'audit'>>,
    detail: Record<string, unknown> = {},
  ): Done => ({
    request: change.request,
    created: false,
    audit: [
      deps.audit.event(p, options, {
        action,
        outcome: 'success',
        row: change.request,
        detail: { ...detail, replicaId: deps.replicaId },
      }),
      ...(change.audit ?? []),
    ],
    publish: change.publish,
  });

  return {
    pairFor,
    isOverseer,
    canSee,
    ownRequestRefusal,
    lockVisible,
    requireTransition,
    validComment,
    chainOf,
    applied,
    changed,
  };
}
