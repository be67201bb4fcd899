/**
 * The alert outbox (migration 0006): routing alerts to channels, claiming due deliveries, recording outcomes and
 * replaying dead letters. Claims use `FOR UPDATE SKIP LOCKED` and a lease (`claim_id` until `next_attempt_at`):
 * replicas that claim at the same moment take different rows, and a claim whose worker died is due again when its
 * lease ends. An outcome is recorded only by the worker that still holds the claim.
 */
import { sql } from 'kysely';
import type { AlertSeverity } from '../alerts/alert-kinds.js';
import type { Db } from './database.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

/** An alert as the delivery side sees it. */
export interface OutboxAlert {
  readonly id: number;
  readonly kind: string;
  readonly severity: AlertSeverity;
  readonly requestId: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

export interface ClaimedDelivery {
  readonly alert: OutboxAlert;
  readonly channel: string;
  /** This attempt's number (1 for the first). */
  readonly attempt: number;
}

export interface DeliveryState {
  readonly channel: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date | null;
  readonly lastError: string | null;
  readonly lastAttemptAt: Date | null;
  readonly deliveredAt: Date | null;
}

export interface AlertWithDeliveries extends OutboxAlert {
  readonly routedAt: Date | null;
  readonly deliveries: readonly DeliveryState[];
}

const asDetail = (value: unknown): Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};

/**
 * Gives unrouted alerts their delivery rows (one per channel `channelsOf` names) and marks them routed, at most
 * `limit` of them, in one transaction; replicas routing at once take different alerts. Returns how many were routed.
 */
export async function routeNewAlerts(
  db: Db,
  channelsOf: (alert: OutboxAlert) => readonly string[],
  now: Date,
  limit: number,
): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('alert_events')
      .select(['id', 'kind', 'severity', 'request_id', 'detail', 'created_at'])
      .where('routed_at', 'is', null)
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length === 0) return 0;
    const deliveries = rows.flatMap((r) =>
      channelsOf(toAlert(r)).map((channel) => ({
        alert_id: r.id,
        channel,
        status: 'pending' as const,
        next_attempt_at: now,
        created_at: now,
      })),
    );
    if (deliveries.length > 0) {
      await tx
        .insertInto('alert_deliveries')
        .values(deliveries)
        .onConflict((oc) => oc.columns(['alert_id', 'channel']).doNothing())
        .execute();
    }
    await tx
      .updateTable('alert_events')
      .set({ routed_at: now })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.length;
  });
}

function toAlert(r: {
  id: number;
  kind: string;
  severity: AlertSeverity;
  request_id: string | null;
  detail: unknown;
  created_at: Date;
}): OutboxAlert {
  return {
    id: r.id,
    kind: r.kind,
    severity: r.severity,
    requestId: r.request_id,
    detail: asDetail(r.detail),
    createdAt: r.created_at,
  };
}

/** Claims up to `limit` due deliveries of the given channels until `leaseUntil`, counting the attempt. */
export async function claimDueDeliveries(
  db: Db,
  claim: {
    readonly claimId: string;
    readonly now: Date;
    readonly leaseUntil: Date;
    readonly limit: number;
    readonly channels: readonly string[];
  },
): Promise<ClaimedDelivery[]> {
  if (claim.limit <= 0 || claim.channels.length === 0) return [];
  const result = await sql<{
    alert_id: number;
    channel: string;
    attempts: number;
    kind: string;
    severity: AlertSeverity;
    request_id: string | null;
    detail: unknown;
    created_at: Date;
  }>`
    with due as (
      select alert_id, channel from alert_deliveries
       where status = 'pending' and next_attempt_at <= ${claim.now}
         and channel = any(${[...claim.channels]}::text[])
       order by next_attempt_at
       limit ${claim.limit}
       for update skip locked
    )
    update alert_deliveries d
       set attempts = d.attempts + 1, claim_id = ${claim.claimId}::uuid, next_attempt_at = ${claim.leaseUntil},
           last_attempt_at = ${claim.now}
      from due, alert_events a
     where d.alert_id = due.alert_id and d.channel = due.channel and a.id = d.alert_id
    returning d.alert_id, d.channel, d.attempts, a.kind, a.severity, a.request_id, a.detail, a.created_at`.execute(
    db,
  );
  return result.rows.map((r) => ({
    channel: r.channel,
    attempt: r.attempts,
    alert: toAlert({ ...r, id: r.alert_id }),
  }));
}

interface Held {
  readonly alertId: number;
  readonly channel: string;
  readonly claimId: string;
}

/** An update of the delivery `held` names, which changes nothing once its claim is lost (its lease ended). */
function updateHeld(db: Db, held: Held) {
  return db
    .updateTable('alert_deliveries')
    .where('alert_id', '=', held.alertId)
    .where('channel', '=', held.channel)
    .where('claim_id', '=', held.claimId)
    .where('status', '=', 'pending');
}

/** Marks a claimed delivery delivered; false when the claim was lost meanwhile (its lease ended). */
export async function recordDelivered(db: Db, held: Held, at: Date): Promise<boolean> {
  const r = await updateHeld(db, held)
    .set({ status: 'delivered', delivered_at: at, claim_id: null, next_attempt_at: at, last_error: null })
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Records a failed attempt: due again at `retryAt`, or dead when `retryAt` is undefined. False when the claim was
 * lost meanwhile.
 */
export async function recordFailed(
  db: Db,
  held: Held,
  failure: { readonly error: string; readonly retryAt: Date | undefined; readonly at: Date },
): Promise<boolean> {
  const r = await updateHeld(db, held)
    .set({
      status: failure.retryAt === undefined ? 'dead' : 'pending',
      next_attempt_at: failure.retryAt ?? failure.at,
      last_error: failure.error.slice(0, 500),
      claim_id: null,
    })
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives back a claim without counting its attempt (the worker stopped before it knew the outcome). */
export async function releaseClaim(db: Db, held: Held, at: Date): Promise<void> {
  await updateHeld(db, held)
    .set((eb) => ({ claim_id: null, next_attempt_at: at, attempts: eb('attempts', '-', 1) }))
    .execute();
}

/** Makes the alert's dead deliveries (of one channel, or all) pending again with fresh attempts; returns them. */
export async function redeliverDead(
  db: Db,
  alertId: number,
  channel: string | undefined,
  now: Date,
): Promise<string[]> {
  let q = db
    .updateTable('alert_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, claim_id: null })
    .where('alert_id', '=', alertId)
    .where('status', '=', 'dead');
  if (channel !== undefined) q = q.where('channel', '=', channel);
  const rows = await q.returning('channel').execute();
  // Every replica's worker wakes (not only this one's): the replay is due now.
  if (rows.length > 0) await sql`select pg_notify('phigate_alerts', ${String(alertId)})`.execute(db);
  return rows.map((r) => r.channel).sort();
}

export async function findAlert(db: Db, alertId: number): Promise<OutboxAlert | undefined> {
  const r = await db
    .selectFrom('alert_events')
    .select(['id', 'kind', 'severity', 'request_id', 'detail', 'created_at'])
    .where('id', '=', alertId)
    .executeTakeFirst();
  return r === undefined ? undefined : toAlert(r);
}

/** Newest first; `beforeId` pages on; `status` keeps alerts with at least one delivery in that state. */
export async function listAlertsWithDeliveries(
  db: Db,
  query: {
    readonly limit: number;
    readonly beforeId?: number | undefined;
    readonly status?: DeliveryStatus | undefined;
  },
): Promise<AlertWithDeliveries[]> {
  let q = db
    .selectFrom('alert_events')
    .select(['id', 'kind', 'severity', 'request_id', 'detail', 'created_at', 'routed_at'])
    .orderBy('id', 'desc')
    .limit(query.limit);
  if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
  const status = query.status;
  if (status !== undefined) {
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('alert_deliveries as d')
          .select('d.alert_id')
          .whereRef('d.alert_id', '=', 'alert_events.id')
          .where('d.status', '=', status),
      ),
    );
  }
  const alerts = await q.execute();
  if (alerts.length === 0) return [];
  const deliveries = await db
    .selectFrom('alert_deliveries')
    .selectAll()
    .where(
      'alert_id',
      'in',
      alerts.map((a) => a.id),
    )
    .orderBy('channel')
    .execute();
  return alerts.map((a) => ({
    ...toAlert(a),
    routedAt: a.routed_at,
    deliveries: deliveries
      .filter((d) => d.alert_id === a.id)
      .map((d) => ({
        channel: d.channel,
        status: d.status,
        attempts: d.attempts,
        nextAttemptAt: d.status === 'pending' ? d.next_attempt_at : null,
        lastError: d.last_error,
        lastAttemptAt: d.last_attempt_at,
        deliveredAt: d.delivered_at,
      })),
  }));
}

/** Deliveries waiting (pending) and given up (dead), per channel: the outbox depth. */
export async function outboxDepth(
  db: Db,
): Promise<{ readonly channel: string; readonly status: DeliveryStatus; readonly count: number }[]> {
  const rows = await db
    .selectFrom('alert_deliveries')
    .select(['channel', 'status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('status', 'in', ['pending', 'dead'])
    .groupBy(['channel', 'status'])
    .execute();
  return rows.map((r) => ({ channel: r.channel, status: r.status, count: Number(r.count) }));
}

/** When the earliest pending delivery of these channels falls due (a claim's lease end included). */
export async function nextDueAt(db: Db, channels: readonly string[]): Promise<Date | undefined> {
  if (channels.length === 0) return undefined;
  const r = await db
    .selectFrom('alert_deliveries')
    .select((eb) => eb.fn.min('next_attempt_at').as('due'))
    .where('status', '=', 'pending')
    .where('channel', 'in', [...channels])
    .executeTakeFirst();
  return r?.due ?? undefined;
}
