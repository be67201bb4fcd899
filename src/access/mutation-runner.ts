/**
 * How every change to a request runs: idempotency first, then the checks and the change, with the audit record and
 * the idempotency record in the same transaction; refusals are audited too; grant events are announced in the same
 * transaction (delivered to other replicas at commit) and to this process's subscribers after it.
 */
import type { Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.js';
import type { AuditEventInput } from '../audit/event.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError, isPhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { listApprovals } from '../store/approval-repository.js';
import type { Db } from '../store/database.js';
import {
  findIdempotencyRecord,
  lockIdempotencyKey,
  saveIdempotencyRecord,
} from '../store/idempotency-repository.js';
import type { Database } from '../store/schema.js';
import type { AccessAction, AccessAudit } from './access-audit.js';
import type { AccessRequest } from './grant.js';
import { answerOf, fingerprint, replayAnswer, validateIdempotencyKey } from './idempotency.js';
import type { GrantLifecycle } from './lifecycle.js';
import { toRequestView } from './request-view.js';
import type { AccessRequestView, GrantEvent, MutationOptions, MutationResult } from './types.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A refusal raised during the checks of a mutation; recorded, then thrown to the caller. */
export class Refusal extends Error {
  constructor(
    readonly error: PhigateError,
    readonly event: AuditEventInput,
  ) {
    super(error.message);
  }
}

/** A mutation's outcome: the request as it is now, its audit events and grant events (a lifecycle change's). */
export interface Done {
  readonly request: AccessRequest;
  readonly created: boolean;
  readonly audit: readonly AuditEventInput[];
  readonly publish: readonly GrantEvent[];
}

export interface MutationSpec {
  readonly action: AccessAction;
  readonly target: string | undefined;
  readonly body: unknown;
  readonly options: MutationOptions | undefined;
}

type TxOutcome =
  | {
      readonly kind: 'done';
      readonly view: AccessRequestView;
      readonly deliver: () => void;
    }
  | { readonly kind: 'refused'; readonly error: PhigateError }
  | { readonly kind: 'replay'; readonly body: unknown };

export interface MutationRunnerDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly lifecycle: Pick<GrantLifecycle, 'record'>;
  readonly logger: Pick<Logger, 'error'>;
  readonly replicaId: string | undefined;
  readonly audit: AccessAudit;
}

export interface MutationRunner {
  readonly mutate: (
    p: Principal,
    spec: MutationSpec,
    work: (tx: Transaction<Database>, now: Date) => Promise<Done>,
  ) => Promise<MutationResult>;
  /** Records a refusal that happened outside a mutation's transaction (reads, malformed input before it). */
  readonly recordRefusal: (event: AuditEventInput) => Promise<void>;
  /** Builds the refusal (error + audit event) a mutation's checks throw. */
  readonly refuse: (
    p: Principal,
    spec: MutationSpec,
    error: PhigateError,
    row: AccessRequest | undefined,
    detail?: Record<string, unknown>,
  ) => Refusal;
}

export function createMutationRunner(deps: MutationRunnerDeps): MutationRunner {
  const { db, clock, lifecycle, logger, replicaId, audit } = deps;

  /**
   * Under the idempotency key's lock: the earlier call's answer again (a replay, recorded), a conflict when the key
   * was used for another call, or undefined when the key is new.
   */
  const earlierAnswer = async (
    tx: Transaction<Database>,
    p: Principal,
    spec: MutationSpec,
    c: {
      key: string;
      print: string;
      now: Date;
      refusedEvent: (error: PhigateError) => AuditEventInput;
    },
  ): Promise<TxOutcome | undefined> => {
    await lockIdempotencyKey(tx, p.id, c.key);
    const stored = await findIdempotencyRecord(tx, p.id, c.key);
    if (stored === undefined) return undefined;
    if (stored.fingerprint !== c.print) {
      const error = new PhigateError(
        'conflict',
        'idempotency.key-reused',
        'this idempotency key was used for a different call',
      );
      await appendAudit(tx, [c.refusedEvent(error)], c.now);
      return { kind: 'refused', error };
    }
    const replay = audit.event(p, spec.options, {
      action: 'idempotency.replay',
      outcome: 'success',
      requestId: spec.target !== undefined && UUID.test(spec.target) ? spec.target : undefined,
      detail: { replayedAction: spec.action, statusCode: stored.statusCode },
    });
    await appendAudit(tx, [replay], c.now);
    return { kind: 'replay', body: stored.body };
  };

  /**
   * Runs one mutation: idempotency first, then the checks and the change, audit and idempotency record in the same
   * transaction; publishes after commit.
   */
  const mutate = async (
    p: Principal,
    spec: MutationSpec,
    work: (tx: Transaction<Database>, now: Date) => Promise<Done>,
  ): Promise<MutationResult> => {
    const refusedEvent = (error: PhigateError): AuditEventInput =>
      audit.event(p, spec.options, {
        action: spec.action,
        outcome: 'refused',
        reasonCode: error.code,
        requestId: spec.target !== undefined && UUID.test(spec.target) ? spec.target : undefined,
        detail: { message: error.message, replicaId },
      });
    let key: string | undefined;
    try {
      key = validateIdempotencyKey(spec.options?.idempotencyKey);
    } catch (err) {
      if (!isPhigateError(err)) throw err;
      await recordRefusal(refusedEvent(err));
      throw err;
    }
    const print = fingerprint(spec.action, spec.target, spec.body);

    let outcome: TxOutcome;
    try {
      outcome = await db.transaction().execute(async (tx): Promise<TxOutcome> => {
        const now = clock.now();
        if (key !== undefined) {
          const earlier = await earlierAnswer(tx, p, spec, { key, print, now, refusedEvent });
          if (earlier !== undefined) return earlier;
        }
        let done: Done;
        try {
          done = await work(tx, now);
        } catch (err) {
          if (!(err instanceof Refusal)) throw err;
          await appendAudit(tx, [err.event], now);
          // "Try again later" is not the request's answer: a retry with the same key must really try again.
          if (key !== undefined && err.error.kind !== 'unavailable') {
            const answer = answerOf(err.error);
            await saveIdempotencyRecord(tx, { principalId: p.id, key, fingerprint: print, ...answer });
          }
          return { kind: 'refused', error: err.error };
        }
        const view = toRequestView(done.request, await listApprovals(tx, [done.request.id]));
        const deliver = await lifecycle.record(tx, [done], now);
        if (key !== undefined) {
          const answer = answerOf({ request: view, created: done.created });
          await saveIdempotencyRecord(tx, { principalId: p.id, key, fingerprint: print, ...answer });
        }
        return { kind: 'done', view, deliver };
      });
    } catch (err) {
      if (isPhigateError(err)) throw err;
      logger.error({ err, action: spec.action }, 'access change failed; nothing was changed');
      throw new PhigateError(
        'unavailable',
        'store.unavailable',
        'the access store or the audit log is unavailable; nothing was changed',
        {},
        { cause: err },
      );
    }

    switch (outcome.kind) {
      case 'replay':
        return { request: replayAnswer(outcome.body), replayed: true };
      case 'refused':
        throw outcome.error;
      case 'done':
        outcome.deliver();
        return { request: outcome.view, replayed: false };
    }
  };

  /** Records a refusal that happened outside a mutation's transaction (reads, malformed input before it). */
  const recordRefusal = async (event: AuditEventInput): Promise<void> => {
    try {
      await db.transaction().execute((tx) => appendAudit(tx, [event], clock.now()));
    } catch (err) {
      logger.error({ err, action: event.action }, 'could not record a refused attempt');
      throw new PhigateError(
        'unavailable',
        'store.unavailable',
        'the audit log is unavailable',
        {},
        { cause: err },
      );
    }
  };

  const refuse = (
    p: Principal,
    spec: MutationSpec,
    error: PhigateError,
    row: AccessRequest | undefined,
    detail: Record<string, unknown> = {},
  ): Refusal =>
    new Refusal(
      error,
      audit.event(p, spec.options, {
        action: spec.action,
        outcome: 'refused',
        reasonCode: error.code,
        row,
        resource: row?.resource,
        requestId: row?.id ?? (spec.target !== undefined && UUID.test(spec.target) ? spec.target : undefined),
        detail: {
          ...detail,
          message: error.message,
          ...(error.details !== undefined ? { errorDetails: error.details } : {}),
          replicaId,
        },
      }),
    );

  return { mutate, recordRefusal, refuse };
}
