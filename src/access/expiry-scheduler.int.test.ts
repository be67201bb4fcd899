import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { systemClock } from '../lib/clock.js';
import type { RequestStatus } from '../store/schema.js';
import { createGrantEventBus, type GrantEventBusHandle } from './event-bus.js';
import { createExpiryScheduler, type ExpiryScheduler } from './expiry-scheduler.js';
import type { GrantEvent } from './types.js';
import { testPseudonymizer, until } from '../../test/support/helpers.js';

const logger = pino({ level: 'silent' });
const POLICY = 'f'.repeat(64);

/** Rows as the access service would have written them; the scheduler only reads status and deadlines. */
async function seed(
  db: TestDatabase,
  rows: readonly { status: RequestStatus; expiresAt?: Date; pendingUntil?: Date }[],
): Promise<string[]> {
  const ids = rows.map(() => randomUUID());
  const now = new Date();
  await db.db
    .insertInto('access_requests')
    .values(
      rows.map((r, i) => ({
        id: ids[i]!,
        requester_id: 'iss#dan',
        requester: JSON.stringify({ id: 'iss#dan' }),
        resource: 'ehr',
        role: 'analyst',
        duration_ms: 60_000,
        purpose: 'HOPERAT',
        justification: 'test',
        scope_hash: 'x',
        patient_ids: '[]',
        emergency: false,
        policy_hash: POLICY,
        decision: JSON.stringify({ outcome: 'allow' }),
        status: r.status,
        created_at: now,
        pending_until: r.pendingUntil ?? null,
        activated_at: r.status === 'active' ? now : null,
        expires_at: r.expiresAt ?? null,
      })),
    )
    .execute();
  return ids;
}

async function statuses(db: TestDatabase, ids: readonly string[]): Promise<RequestStatus[]> {
  const rows = await db.db
    .selectFrom('access_requests')
    .select(['id', 'status'])
    .where('id', 'in', [...ids])
    .execute();
  return ids.map((id) => rows.find((r) => r.id === id)!.status);
}

async function auditCount(db: TestDatabase, action: string, ids: readonly string[]): Promise<number> {
  const r = await db.db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('action', '=', action)
    .where('request_id', 'in', [...ids])
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('expiry scheduler on real PostgreSQL', () => {
  let db: TestDatabase;
  const stoppers: (() => Promise<void>)[] = [];
  before(async () => {
    db = await createTestDatabase();
    await db.db
      .insertInto('policy_versions')
      .values({ hash: POLICY, source_name: 't', source: 't' })
      .execute();
  });
  after(async () => {
    for (const stop of stoppers.reverse()) await stop();
    await db.drop();
  });

  function scheduler(bus: GrantEventBusHandle, extra: { sweepIntervalMs?: number } = {}): ExpiryScheduler {
    const s = createExpiryScheduler({
      db: db.db,
      bus,
      clock: systemClock,
      logger,
      pseudonymizer: testPseudonymizer,
      ...extra,
    });
    stoppers.push(() => s.stop());
    return s;
  }
  function bus(replicaId: string): GrantEventBusHandle {
    const b = createGrantEventBus({ pool: db.pool, replicaId, logger });
    stoppers.push(() => b.close());
    return b;
  }

  it('start() ends grants that fell due while it was down before it returns (ATTACKS 19)', async () => {
    const past = new Date(Date.now() - 60_000);
    const future = new Date(Date.now() + 3_600_000);
    const ids = await seed(db, [
      { status: 'active', expiresAt: past },
      { status: 'active', expiresAt: past },
      { status: 'active', expiresAt: future },
      { status: 'pending', pendingUntil: past },
      { status: 'revoked', expiresAt: past },
    ]);
    const b = bus('r-restart');
    const events: GrantEvent[] = [];
    b.subscribe((e) => events.push(e));
    const s = scheduler(b);
    await s.start();
    assert.deepEqual(await statuses(db, ids), ['expired', 'expired', 'active', 'timed-out', 'revoked']);
    assert.deepEqual(
      events.map((e) => [e.type, e.grantId]).sort(),
      [
        ['grant.expired', ids[0]],
        ['grant.expired', ids[1]],
      ].sort(),
    );
    assert.equal(await auditCount(db, 'grant.expire', ids), 2);
    assert.equal(await auditCount(db, 'request.timeout', ids), 1);
    assert.ok(s.size >= 1, 'the future grant is tracked');
    await s.stop();
  });

  it('ends a grant within tens of milliseconds of expires_at, announced by the bus', async () => {
    const b = bus('r-timely');
    const s = scheduler(b);
    await s.start();
    const expiresAt = new Date(Date.now() + 400);
    const [id] = await seed(db, [{ status: 'active', expiresAt }]);
    let seenAt = 0;
    b.subscribe((e) => {
      if (e.type === 'grant.expired' && e.grantId === id) seenAt = Date.now();
    });
    // As the access service does when it commits an activation.
    const announced = await db.db.transaction().execute((tx) =>
      b.announce(tx, [
        {
          type: 'grant.activated',
          grantId: id!,
          requesterId: 'iss#dan',
          resource: 'ehr',
          role: 'analyst',
          activatedAt: new Date().toISOString(),
          expiresAt: expiresAt.toISOString(),
          emergency: false,
        },
      ]),
    );
    announced();
    assert.deepEqual(await statuses(db, [id!]), ['active']);
    await until(() => seenAt > 0, 'the expiry event');
    const late = seenAt - expiresAt.getTime();
    assert.ok(late >= 0 && late < 250, `expired ${late} ms after expires_at`);
    assert.deepEqual(await statuses(db, [id!]), ['expired']);
    const row = await db.db
      .selectFrom('access_requests')
      .select(['ended_at', 'end_reason', 'ended_by'])
      .where('id', '=', id!)
      .executeTakeFirstOrThrow();
    assert.equal(row.end_reason, 'expired');
    assert.equal(row.ended_by, 'system');
    assert.ok(row.ended_at!.getTime() >= expiresAt.getTime());
    await s.stop();
  });

  it('with two replicas on one store, each grant expires exactly once', async () => {
    const b1 = bus('r-one');
    const b2 = bus('r-two');
    await Promise.all([b1.ready(), b2.ready()]);
    const s1 = scheduler(b1);
    const s2 = scheduler(b2);
    const base = Date.now() + 1_000;
    const ids = await seed(
      db,
      Array.from({ length: 300 }, (_, i) => ({
        status: 'active' as const,
        expiresAt: new Date(base + (i % 30) * 10),
      })),
    );
    // Both replicas load the same grants from the store.
    await Promise.all([s1.start(), s2.start()]);
    const expiredEvents = new Map<string, number>();
    const count = (e: GrantEvent): void => {
      if (e.type === 'grant.expired') expiredEvents.set(e.grantId, (expiredEvents.get(e.grantId) ?? 0) + 1);
    };
    // Replica 1 hears its own expiries in-process and replica 2's over NOTIFY: a double expiry would show twice.
    b1.subscribe(count);
    await until(async () => (await statuses(db, ids)).every((s) => s === 'expired'), 'all expired', 10_000);
    await sleep(300);
    assert.equal(await auditCount(db, 'grant.expire', ids), ids.length, 'one audit event per grant');
    assert.equal(expiredEvents.size, ids.length);
    assert.ok(
      [...expiredEvents.values()].every((n) => n === 1),
      'each expiry announced once',
    );
    await Promise.all([s1.stop(), s2.stop()]);
  });

  it('times out pending requests found by the sweep', async () => {
    const b = bus('r-sweep');
    const s = scheduler(b, { sweepIntervalMs: 100 });
    await s.start();
    const [id] = await seed(db, [{ status: 'pending', pendingUntil: new Date(Date.now() + 250) }]);
    await until(async () => (await statuses(db, [id!]))[0] === 'timed-out', 'the time-out');
    assert.equal(await auditCount(db, 'request.timeout', [id!]), 1);
    await s.stop();
  });

  it('fails closed when the audit log refuses: nothing ends unrecorded, and it retries', async () => {
    const b = bus('r-audit');
    const s = scheduler(b);
    await s.start();
    await sql`create function refuse_audit() returns trigger language plpgsql as $$
      begin raise exception 'audit store unavailable'; end $$`.execute(db.db);
    await sql`create trigger refuse_audit before insert on audit_events
      for each statement execute function refuse_audit()`.execute(db.db);
    const expiresAt = new Date(Date.now() + 100);
    const [id] = await seed(db, [{ status: 'active', expiresAt }]);
    s.track(id!, expiresAt, 'expire');
    await sleep(400);
    assert.deepEqual(await statuses(db, [id!]), ['active'], 'no expiry without its audit record');
    await sql`drop trigger refuse_audit on audit_events`.execute(db.db);
    await until(async () => (await statuses(db, [id!]))[0] === 'expired', 'the retried expiry');
    assert.equal(await auditCount(db, 'grant.expire', [id!]), 1);
    await s.stop();
  });
});
