/**
 * Queries on access requests (grants are requests that activated). Rows are mapped to the access module's domain
 * types here, once (access/grant.ts): nothing outside the store reads a column name. Status changes are conditional
 * on the status the caller saw (`where status = from`), so a transition applies once even when several replicas try
 * it; the lifecycle (access/lifecycle.ts) decides what is legal and what a change sets, this file only says it to
 * PostgreSQL.
 */
import { sql, type Transaction } from 'kysely';
import type { AccessRequest, Grant, StatusPatch } from '../access/grant.js';
import { toAccessRequest, toGrant, toPatch } from './access-request-rows.js';
import type { Db } from './database.js';
import type { Database, RequestStatus } from './schema.js';

/** Advisory-lock namespace for a (requester, role, resource) chain: serialises the cumulative-duration check. */
const CHAIN_LOCK = 0x70_68_01;

/** Writes a new request as the lifecycle made it (pending or already active). */
export async function insertRequest(tx: Transaction<Database>, r: AccessRequest): Promise<AccessRequest> {
  const row = await tx
    .insertInto('access_requests')
    .values({
      id: r.id,
      requester_id: r.requesterId,
      requester: JSON.stringify(r.requester),
      requester_person_keys: r.requesterPersonKeys === undefined ? undefined : [...r.requesterPersonKeys],
      resource: r.resource,
      role: r.role,
      duration_ms: r.durationMs,
      purpose: r.purpose,
      justification: r.justification,
      ticket: r.ticket ?? null,
      patient_ids: JSON.stringify(r.patientIds),
      patients_found: r.patientsFound ?? null,
      scope_hash: r.scopeHash,
      policy_hash: r.policyHash,
      decision: JSON.stringify(r.decision),
      emergency: r.emergency,
      status: r.status,
      created_at: r.createdAt,
      pending_until: r.pendingUntil ?? null,
      decided_at: r.decidedAt ?? null,
      activated_at: r.activatedAt ?? null,
      expires_at: r.expiresAt ?? null,
      ended_at: r.endedAt ?? null,
      end_reason: r.endReason ?? null,
      ended_by: r.endedBy ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toAccessRequest(row);
}

export async function findRequest(db: Db, id: string): Promise<AccessRequest | undefined> {
  const row = await db.selectFrom('access_requests').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toAccessRequest(row);
}

/** Reads and locks the row until the transaction ends: approve, deny, cancel, revoke and time-out serialise here. */
export async function lockRequest(tx: Transaction<Database>, id: string): Promise<AccessRequest | undefined> {
  const row = await tx
    .selectFrom('access_requests')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return row === undefined ? undefined : toAccessRequest(row);
}

/**
 * Applies a status change if the row is still in `from` (and, with `unexpiredAt`, its grant has not run out by then:
 * a grant whose time is up is the expiry's to end); undefined when someone else moved it first.
 */
export async function updateRequestStatus(
  tx: Transaction<Database>,
  id: string,
  from: RequestStatus,
  patch: StatusPatch,
  guard: { readonly unexpiredAt?: Date } = {},
): Promise<AccessRequest | undefined> {
  let query = tx
    .updateTable('access_requests')
    .set(toPatch(patch))
    .where('id', '=', id)
    .where('status', '=', from);
  if (guard.unexpiredAt !== undefined) query = query.where('expires_at', '>', guard.unexpiredAt);
  const row = await query.returningAll().executeTakeFirst();
  return row === undefined ? undefined : toAccessRequest(row);
}

export interface RequestQuery {
  readonly requesterId?: string | undefined;
  readonly excludeRequesterId?: string | undefined;
  readonly statuses?: readonly RequestStatus[] | undefined;
  /** Keyset: rows strictly after this one in (created_at desc, id desc) order. */
  readonly after?: { readonly createdAt: Date; readonly id: string } | undefined;
  readonly limit: number;
}

export async function listRequests(db: Db, q: RequestQuery): Promise<AccessRequest[]> {
  let query = db.selectFrom('access_requests').selectAll();
  if (q.requesterId !== undefined) query = query.where('requester_id', '=', q.requesterId);
  if (q.excludeRequesterId !== undefined) query = query.where('requester_id', '<>', q.excludeRequesterId);
  if (q.statuses !== undefined) {
    if (q.statuses.length === 0) return [];
    query = query.where('status', 'in', [...q.statuses]);
  }
  if (q.after !== undefined) {
    const { createdAt, id } = q.after;
    query = query.where(sql<boolean>`(created_at, id) < (${createdAt}, ${id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map(toAccessRequest);
}

/** Serialises requests of one chain, so two extensions racing cannot both fit under the cumulative maximum. */
export async function lockChain(
  tx: Transaction<Database>,
  requesterId: string,
  role: string,
  resource: string,
): Promise<void> {
  const key = JSON.stringify([requesterId, role, resource]);
  await sql`select pg_advisory_xact_lock(${CHAIN_LOCK}, hashtext(${key}))`.execute(tx);
}

export interface ChainLink {
  readonly id: string;
  readonly status: RequestStatus;
  readonly activatedAt: Date;
  /** When the grant ends or ended: its expiry, or the revocation time when revoked earlier. */
  readonly endAt: Date;
}

/** Grants of one requester, role and resource that end at or after `endFrom`, latest end first. */
export async function listChainLinks(
  db: Db,
  q: { requesterId: string; role: string; resource: string; endFrom: Date; excludeId?: string },
): Promise<ChainLink[]> {
  const endAt = sql<Date>`case when status = 'revoked' then least(ended_at, expires_at) else expires_at end`;
  let query = db
    .selectFrom('access_requests')
    .select(['id', 'status', 'activated_at', endAt.as('end_at')])
    .where('requester_id', '=', q.requesterId)
    .where('role', '=', q.role)
    .where('resource', '=', q.resource)
    .where('status', 'in', ['active', 'expired', 'revoked'])
    .where('expires_at', '>=', q.endFrom);
  if (q.excludeId !== undefined) query = query.where('id', '<>', q.excludeId);
  const rows = await query.orderBy(endAt, 'desc').limit(10_000).execute();
  return rows.map((r) => ({ id: r.id, status: r.status, activatedAt: r.activated_at!, endAt: r.end_at }));
}

export interface Deadline {
  readonly id: string;
  readonly at: Date;
}

/** Active grants' expiries (all, or those due before `dueBefore`), earliest first. */
export async function listActiveExpiries(db: Db, dueBefore?: Date): Promise<Deadline[]> {
  let query = db
    .selectFrom('access_requests')
    .select(['id', 'expires_at as at'])
    .where('status', '=', 'active');
  if (dueBefore !== undefined) query = query.where('expires_at', '<=', dueBefore);
  const rows = await query.orderBy('expires_at').execute();
  return rows.map((r) => ({ id: r.id, at: r.at! }));
}

export async function listPendingDeadlines(db: Db, dueBefore: Date): Promise<Deadline[]> {
  const rows = await db
    .selectFrom('access_requests')
    .select(['id', 'pending_until as at'])
    .where('status', '=', 'pending')
    .where('pending_until', '<=', dueBefore)
    .orderBy('pending_until')
    .execute();
  return rows.map((r) => ({ id: r.id, at: r.at! }));
}

export interface CloseDue {
  readonly now: Date;
  /** Only these ids (the scheduler's due batch); otherwise any overdue rows, up to `limit`. */
  readonly ids?: readonly string[] | undefined;
  readonly limit: number;
}

/** Which deadline a batch change is due by: a grant's end, or a pending request's wait for approvers. */
export type DueBy = 'expiresAt' | 'pendingUntil';

/**
 * Applies one status change (from the lifecycle) to every row in `from` whose deadline is due by `now`, among `ids`
 * (or any overdue ones) in one statement. Rows another replica is changing right now are waited for and then
 * skipped by the status re-check, so each changes once.
 */
export async function updateDueStatus(
  tx: Transaction<Database>,
  c: CloseDue,
  from: RequestStatus,
  dueBy: DueBy,
  patch: StatusPatch,
): Promise<AccessRequest[]> {
  const dueColumn = dueBy === 'expiresAt' ? 'expires_at' : 'pending_until';
  if (c.ids !== undefined) {
    if (c.ids.length === 0) return [];
    const rows = await tx
      .updateTable('access_requests')
      .set(toPatch(patch))
      .where(sql<boolean>`id = any(${[...c.ids]}::uuid[])`)
      .where('status', '=', from)
      .where(dueColumn, '<=', c.now)
      .returningAll()
      .execute();
    return rows.map(toAccessRequest);
  }
  // Overdue sweep: skip rows another replica holds, it is ending them; the loop in the caller comes back for more.
  const due = tx
    .selectFrom('access_requests')
    .select('id')
    .where('status', '=', from)
    .where(dueColumn, '<=', c.now)
    .orderBy(dueColumn)
    .limit(c.limit)
    .forUpdate()
    .skipLocked();
  const rows = await tx
    .updateTable('access_requests')
    .set(toPatch(patch))
    .where('id', 'in', due)
    .where('status', '=', from)
    .returningAll()
    .execute();
  return rows.map(toAccessRequest);
}

/**
 * The grant that lets `requesterId` into `resource` now: the one named (a connection token's), or else the one that
 * lasts longest. Undefined when none is active — the gateway then refuses the connection.
 */
export async function findActiveGrant(
  db: Db,
  q: {
    readonly requesterId: string;
    readonly resource: string;
    readonly now: Date;
    readonly grantId?: string | undefined;
  },
): Promise<Grant | undefined> {
  let query = db
    .selectFrom('access_requests')
    .selectAll()
    .where('requester_id', '=', q.requesterId)
    .where('resource', '=', q.resource)
    .where('status', '=', 'active')
    .where('expires_at', '>', q.now);
  if (q.grantId !== undefined) query = query.where('id', '=', q.grantId);
  const row = await query.orderBy('expires_at', 'desc').limit(1).executeTakeFirst();
  return row === undefined ? undefined : toGrant(row);
}

/** Held while one replica runs a round of care-relation checks, so the protected databases see one look-up each. */
export const CARE_ROUND_LOCK = 0x70_68_03;

/**
 * Runs `round` on one connection holding the care-round lock: waiting for it when `wait`, or else returning undefined
 * at once when another replica holds it. A session-level lock: released when the round ends, or the connection dies.
 */
export async function withCareRoundLock<T>(
  db: Db,
  wait: boolean,
  round: () => Promise<T>,
): Promise<T | undefined> {
  return db.connection().execute(async (conn) => {
    if (wait) {
      await sql`select pg_advisory_lock(${CARE_ROUND_LOCK})`.execute(conn);
    } else {
      const got = await sql<{ got: boolean }>`select pg_try_advisory_lock(${CARE_ROUND_LOCK}) as got`.execute(
        conn,
      );
      if (got.rows[0]?.got !== true) return undefined;
    }
    try {
      return await round();
    } finally {
      await sql`select pg_advisory_unlock(${CARE_ROUND_LOCK})`.execute(conn);
    }
  });
}

/** Active grants limited to named patients: among them, the ones a care relation that ended may have to end. */
export async function listActivePatientGrants(db: Db, now: Date): Promise<Grant[]> {
  const rows = await db
    .selectFrom('access_requests')
    .selectAll()
    .where('status', '=', 'active')
    .where('expires_at', '>', now)
    .where(sql<boolean>`jsonb_array_length(patient_ids) > 0`)
    .orderBy('activated_at')
    .execute();
  return rows.map(toGrant);
}

/** Whether the grant is still active (the sweep of leftover database roles asks this). */
export async function isGrantActive(db: Db, grantId: string, now: Date): Promise<boolean> {
  const row = await db
    .selectFrom('access_requests')
    .select('id')
    .where('id', '=', grantId)
    .where('status', '=', 'active')
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}
