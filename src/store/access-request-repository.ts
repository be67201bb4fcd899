/**
 * Queries on access requests (grants are requests that activated). Status changes are conditional on the status the
 * caller saw (`where status = from`), so a transition applies once even when several replicas try it; the service
 * decides what is legal (state machine), this file only says it to PostgreSQL.
 */
import { sql, type Insertable, type Selectable, type Transaction, type Updateable } from 'kysely';
import type { Db } from './database.js';
import type { AccessRequestsTable, Database, RequestStatus } from './schema.js';

export type AccessRequestRow = Selectable<AccessRequestsTable>;
export type NewAccessRequestRow = Insertable<AccessRequestsTable>;
export type AccessRequestPatch = Updateable<AccessRequestsTable>;

/** Advisory-lock namespace for a (requester, role, resource) chain: serialises the cumulative-duration check. */
const CHAIN_LOCK = 0x70_68_01;

export async function insertRequest(
  tx: Transaction<Database>,
  row: NewAccessRequestRow,
): Promise<AccessRequestRow> {
  return tx.insertInto('access_requests').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findRequest(db: Db, id: string): Promise<AccessRequestRow | undefined> {
  return db.selectFrom('access_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Reads and locks the row until the transaction ends: approve, deny, cancel, revoke and time-out serialise here. */
export async function lockRequest(
  tx: Transaction<Database>,
  id: string,
): Promise<AccessRequestRow | undefined> {
  return tx.selectFrom('access_requests').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Applies a transition if the row is still in `from`; undefined when someone else moved it first. */
export async function updateRequestStatus(
  tx: Transaction<Database>,
  id: string,
  from: RequestStatus,
  patch: AccessRequestPatch,
): Promise<AccessRequestRow | undefined> {
  return tx
    .updateTable('access_requests')
    .set(patch)
    .where('id', '=', id)
    .where('status', '=', from)
    .returningAll()
    .executeTakeFirst();
}

export interface RequestQuery {
  readonly requesterId?: string | undefined;
  readonly excludeRequesterId?: string | undefined;
  readonly statuses?: readonly RequestStatus[] | undefined;
  /** Keyset: rows strictly after this one in (created_at desc, id desc) order. */
  readonly after?: { readonly createdAt: Date; readonly id: string } | undefined;
  readonly limit: number;
}

export async function listRequests(db: Db, q: RequestQuery): Promise<AccessRequestRow[]> {
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
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
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
  readonly activated_at: Date;
  /** When the grant ends or ended: its expiry, or the revocation time when revoked earlier. */
  readonly end_at: Date;
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
  return rows.map((r) => ({ ...r, activated_at: r.activated_at!, end_at: r.end_at }));
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

/**
 * Ends every active grant due by `now` among `ids` (or any overdue ones) in one statement. Rows another replica is
 * ending right now are waited for and then skipped by the `status = 'active'` re-check, so each grant expires once.
 */
export async function expireDue(tx: Transaction<Database>, c: CloseDue): Promise<AccessRequestRow[]> {
  return closeDue(tx, c, 'active', 'expires_at', {
    status: 'expired',
    ended_at: c.now,
    end_reason: 'expired',
    ended_by: 'system',
  });
}

/** Closes pending requests whose approvers did not act in time. */
export async function timeOutDue(tx: Transaction<Database>, c: CloseDue): Promise<AccessRequestRow[]> {
  return closeDue(tx, c, 'pending', 'pending_until', {
    status: 'timed-out',
    decided_at: c.now,
    ended_at: c.now,
    end_reason: 'timed-out',
    ended_by: 'system',
  });
}

async function closeDue(
  tx: Transaction<Database>,
  c: CloseDue,
  from: RequestStatus,
  dueColumn: 'expires_at' | 'pending_until',
  patch: AccessRequestPatch,
): Promise<AccessRequestRow[]> {
  if (c.ids !== undefined) {
    if (c.ids.length === 0) return [];
    return tx
      .updateTable('access_requests')
      .set(patch)
      .where(sql<boolean>`id = any(${[...c.ids]}::uuid[])`)
      .where('status', '=', from)
      .where(dueColumn, '<=', c.now)
      .returningAll()
      .execute();
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
  return tx
    .updateTable('access_requests')
    .set(patch)
    .where('id', 'in', due)
    .where('status', '=', from)
    .returningAll()
    .execute();
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
    readonly grantId?: string;
  },
): Promise<AccessRequestRow | undefined> {
  let query = db
    .selectFrom('access_requests')
    .selectAll()
    .where('requester_id', '=', q.requesterId)
    .where('resource', '=', q.resource)
    .where('status', '=', 'active')
    .where('expires_at', '>', q.now);
  if (q.grantId !== undefined) query = query.where('id', '=', q.grantId);
  return query.orderBy('expires_at', 'desc').limit(1).executeTakeFirst();
}

/**
 * Revokes a grant the system found it must end, if it is still active and not yet past its end: a grant whose time
 * ran out is the expiry scheduler's to close as expired, not ours to call revoked.
 */
export async function revokeUnexpired(
  tx: Transaction<Database>,
  id: string,
  now: Date,
  patch: Pick<AccessRequestPatch, 'end_reason' | 'ended_by'>,
): Promise<AccessRequestRow | undefined> {
  return tx
    .updateTable('access_requests')
    .set({ ...patch, status: 'revoked', ended_at: now })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
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
export async function listActivePatientGrants(db: Db, now: Date): Promise<AccessRequestRow[]> {
  return db
    .selectFrom('access_requests')
    .selectAll()
    .where('status', '=', 'active')
    .where('expires_at', '>', now)
    .where(sql<boolean>`jsonb_array_length(patient_ids) > 0`)
    .orderBy('activated_at')
    .execute();
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
