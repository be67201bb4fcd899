/**
 * The one way a request's status changes — create (pending or active), approve, activate, deny, cancel, time out,
 * expire, revoke by a person or by the system — each as: the state machine's verdict and the fields it sets
 * (status-change.ts) → one conditional update (`where status = from`) → its audit events → the grant events to
 * announce. Callers run it inside their transaction and hand the result to `record`, which appends the audit events
 * and announces the grant events in that same transaction (delivered to every replica with the commit); the returned
 * delivery is for this process's subscribers, once the transaction has committed.
 *
 * Nothing else writes a status: the access service (a person's changes), the expiry scheduler (expire, time out)
 * and the system revocation (care relation ended, eligibility lost) all come here.
 */
import type { Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.js';
import type { AuditEventInput } from '../audit/event.js';
import {
  insertRequest,
  lockRequest,
  updateDueStatus,
  updateRequestStatus,
  type CloseDue,
} from '../store/access-request-repository.js';
import type { Database } from '../store/schema.js';
import type { AccessAudit, ApproverRef } from './access-audit.js';
import type { SystemEndReason } from './end-reasons.js';
import { asGrant, type AccessRequest } from './grant.js';
import { grantEvent } from './grant-event.js';
import type { LifecycleEvent } from './state-machine.js';
import { SYSTEM, planChange, type Actor } from './status-change.js';
import type { GrantEvent, GrantEventBus } from './types.js';

/** A change's outcome: the request as it is now, what the audit log records, what every replica is told. */
export interface StatusChange {
  readonly request: AccessRequest;
  readonly audit: readonly AuditEventInput[];
  readonly publish: readonly GrantEvent[];
}

/** A new request before it is written: the lifecycle sets its status and times. */
export type RequestDraft = Omit<
  AccessRequest,
  'status' | 'pendingUntil' | 'decidedAt' | 'activatedAt' | 'expiresAt' | 'endedAt' | 'endReason' | 'endedBy'
>;

export interface ChangeContext {
  readonly now: Date;
  readonly by: Actor;
  /** A person's own words for a revocation (the end reason). */
  readonly reason?: string | undefined;
  /** The caller's events about the change (a person's `request.deny`…), given the request as changed. */
  readonly events?: ((changed: AccessRequest) => readonly AuditEventInput[]) | undefined;
  /** On activation: whose approvals started the grant, and what else its `grant.activate` event says. */
  readonly activation?: {
    readonly approvers: readonly ApproverRef[];
    readonly detail: Record<string, unknown>;
  };
  /** The system's detail for its own `grant.revoke` event (no PHI). */
  readonly detail?: Record<string, unknown> | undefined;
}

export interface GrantLifecycle {
  /** Writes a new request, pending (`pendingTimeoutMs` from now) or already active. */
  create(
    tx: Transaction<Database>,
    draft: RequestDraft,
    how: { readonly active: boolean; readonly pendingTimeoutMs: number } & Omit<ChangeContext, 'reason'>,
  ): Promise<StatusChange>;
  /**
   * Applies `event` to `request` (read under its row lock, or as the caller last saw it); undefined when the state
   * machine refuses it or the row moved first. A grant whose time is up is never revoked: it is the expiry's.
   */
  change(
    tx: Transaction<Database>,
    request: AccessRequest,
    event: LifecycleEvent,
    context: ChangeContext,
  ): Promise<StatusChange | undefined>;
  /** Revokes grant `grantId` for the system's `reason`; undefined when it had already ended (or never existed). */
  revokeBySystem(
    tx: Transaction<Database>,
    grantId: string,
    reason: SystemEndReason,
    now: Date,
    detail: Record<string, unknown>,
  ): Promise<StatusChange | undefined>;
  /** Expires active grants, or times out pending requests, whose deadline is due (a batch, in one statement). */
  closeDue(
    tx: Transaction<Database>,
    event: 'expire' | 'time-out',
    batch: CloseDue,
  ): Promise<readonly StatusChange[]>;
  /** Appends the changes' audit events and announces their grant events in `tx`; returns the local delivery. */
  record(
    tx: Transaction<Database>,
    changes: readonly Omit<StatusChange, 'request'>[],
    now: Date,
  ): Promise<() => void>;
}

export function createGrantLifecycle(deps: {
  readonly audit: AccessAudit;
  readonly bus: Pick<GrantEventBus, 'announce'>;
}): GrantLifecycle {
  const { audit, bus } = deps;

  /** The events a status change itself carries, after the caller's own. */
  const eventsOf = (
    event: LifecycleEvent,
    changed: AccessRequest,
    c: ChangeContext,
    now: Date,
  ): AuditEventInput[] => {
    const own = [...(c.events?.(changed) ?? [])];
    switch (event) {
      case 'activate':
        return [...own, audit.activation(changed, c.activation?.approvers ?? [], c.activation?.detail ?? {})];
      case 'expire':
        return [
          ...own,
          audit.system('grant.expire', changed, {
            expiresAt: changed.expiresAt?.toISOString(),
            lateMs: changed.expiresAt === undefined ? undefined : now.getTime() - changed.expiresAt.getTime(),
          }),
        ];
      case 'time-out':
        return [
          ...own,
          audit.system('request.timeout', changed, { pendingUntil: changed.pendingUntil?.toISOString() }),
        ];
      case 'revoke':
        return c.by.kind === 'system'
          ? [...own, audit.system('grant.revoke', changed, { ...c.detail, endReason: changed.endReason })]
          : own;
      default:
        return own;
    }
  };

  const PUBLISHED: Partial<Record<LifecycleEvent, GrantEvent['type']>> = {
    activate: 'grant.activated',
    expire: 'grant.expired',
    revoke: 'grant.revoked',
  };
  const publishOf = (event: LifecycleEvent, changed: AccessRequest): GrantEvent[] => {
    const type = PUBLISHED[event];
    return type === undefined ? [] : [grantEvent(type, asGrant(changed))];
  };

  const change: GrantLifecycle['change'] = async (tx, request, event, c) => {
    const plan = planChange(request, event, c.now, c.by, c.reason);
    if (!plan.ok) return undefined;
    // The expiry scheduler's, never ours: a grant whose time ran out is not revoked after the fact.
    if (event === 'revoke' && request.expiresAt !== undefined && request.expiresAt <= c.now) return undefined;
    const changed =
      plan.from === plan.to
        ? request // an approval that does not yet meet the requirement: nothing to write
        : await updateRequestStatus(
            tx,
            request.id,
            plan.from,
            plan.patch,
            event === 'revoke' ? { unexpiredAt: c.now } : {},
          );
    if (changed === undefined) return undefined;
    return {
      request: changed,
      audit: eventsOf(event, changed, c, c.now),
      publish: publishOf(event, changed),
    };
  };

  return {
    async create(tx, draft, how) {
      const { now } = how;
      const initial: AccessRequest = {
        ...draft,
        status: 'pending',
        createdAt: now,
        pendingUntil: how.active ? undefined : new Date(now.getTime() + how.pendingTimeoutMs),
        decidedAt: undefined,
        activatedAt: undefined,
        expiresAt: undefined,
        endedAt: undefined,
        endReason: undefined,
        endedBy: undefined,
      };
      // An auto-approved request is written already active: the same activation the state machine allows a
      // pending one, in one insert rather than an insert and an update.
      const plan = how.active ? planChange(initial, 'activate', now, how.by) : undefined;
      if (plan !== undefined && !plan.ok) throw new Error(plan.message);
      const created = await insertRequest(tx, plan === undefined ? initial : { ...initial, ...plan.patch });
      const own = [...(how.events?.(created) ?? [])];
      if (!how.active) return { request: created, audit: own, publish: [] };
      return {
        request: created,
        audit: eventsOf('activate', created, { ...how, events: () => own }, now),
        publish: publishOf('activate', created),
      };
    },

    change,

    async revokeBySystem(tx, grantId, reason, now, detail) {
      const request = await lockRequest(tx, grantId);
      if (request === undefined) return undefined;
      return change(tx, request, 'revoke', { now, by: { kind: 'system', reason }, detail });
    },

    async closeDue(tx, event, batch) {
      const from = event === 'expire' ? 'active' : 'pending';
      // Every row of the batch is in `from`: one plan serves them all (durationMs only matters to activation).
      const plan = planChange({ status: from, durationMs: 0 }, event, batch.now, SYSTEM);
      if (!plan.ok) throw new Error(plan.message);
      const closed = await updateDueStatus(
        tx,
        batch,
        plan.from,
        event === 'expire' ? 'expiresAt' : 'pendingUntil',
        plan.patch,
      );
      const context: ChangeContext = { now: batch.now, by: SYSTEM };
      return closed.map((request) => ({
        request,
        audit: eventsOf(event, request, context, batch.now),
        publish: publishOf(event, request),
      }));
    },

    async record(tx, changes, now) {
      await appendAudit(
        tx,
        changes.flatMap((c) => c.audit),
        now,
      );
      return bus.announce(
        tx,
        changes.flatMap((c) => c.publish),
      );
    },
  };
}
