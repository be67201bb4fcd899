import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createGrantEventBus, type GrantEventBusHandle } from './event-bus.js';
import type { GrantEvent } from './types.js';
import { until } from '../../test/support/helpers.js';

const logger = pino({ level: 'silent' });

function event(grantId: string, type: GrantEvent['type'] = 'grant.activated'): GrantEvent {
  return {
    type,
    grantId,
    requesterId: 'iss#dan',
    resource: 'ehr',
    role: 'analyst',
    activatedAt: new Date(0).toISOString(),
    expiresAt: new Date(60_000).toISOString(),
    emergency: false,
  };
}

describe('grant event bus (in-process + LISTEN/NOTIFY)', () => {
  let db: TestDatabase;
  let a: GrantEventBusHandle;
  let b: GrantEventBusHandle;
  before(async () => {
    db = await createTestDatabase();
    a = createGrantEventBus({ pool: db.pool, replicaId: 'replica-a', logger });
    b = createGrantEventBus({
      pool: db.pool,
      replicaId: 'replica-b',
      logger,
      reconnectMs: { initial: 20, max: 100 },
    });
    await Promise.all([a.ready(), b.ready()]);
  });
  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  /** Announces in a transaction of its own, commits, then delivers in-process, as the access lifecycle does. */
  const publish = async (bus: GrantEventBusHandle, ...events: GrantEvent[]): Promise<void> => {
    const deliver = await db.db.transaction().execute((tx) => bus.announce(tx, events));
    deliver();
  };

  it('delivers to local subscribers at once and to the other replica exactly once, ignoring own echoes', async () => {
    const seenA: string[] = [];
    const seenB: string[] = [];
    const offA = a.subscribe((e) => seenA.push(e.grantId));
    const offB = b.subscribe((e) => seenB.push(e.grantId));
    await publish(a, event('g1'));
    assert.deepEqual(seenA, ['g1'], 'in-process delivery follows the commit');
    // Replica b hears g1 through the database, which may take longer than its own next announcement: events of
    // different grants carry no order between replicas, so g2 is announced once b has heard g1.
    await until(() => seenB.length === 1, 'g1 at the other replica');
    await publish(b, event('g2', 'grant.expired'));
    await until(() => seenA.length === 2 && seenB.length === 2, 'cross-replica delivery');
    await sleep(150); // an echo would arrive within this window
    assert.deepEqual(seenA, ['g1', 'g2']);
    assert.deepEqual(seenB, ['g1', 'g2']);
    offA();
    offB();
  });

  it('carries a burst of events in order, packed into notifications under the size limit', async () => {
    const seen: string[] = [];
    const off = b.subscribe((e) => seen.push(e.grantId));
    const ids = Array.from({ length: 500 }, (_, i) => `burst-${i}`);
    await publish(a, ...ids.map((id) => event(id, 'grant.expired')));
    await until(() => seen.length === ids.length, 'the whole burst');
    assert.deepEqual(seen, ids);
    off();
  });

  it('a throwing handler does not stop the others', async () => {
    const seen: string[] = [];
    const off1 = b.subscribe(() => {
      throw new Error('boom');
    });
    const off2 = b.subscribe((e) => seen.push(e.grantId));
    await publish(a, event('g3'));
    await until(() => seen.length === 1, 'delivery despite a failing handler');
    off1();
    off2();
  });

  it('ignores malformed notifications on the channel', async () => {
    const seen: GrantEvent[] = [];
    const off = b.subscribe((e) => seen.push(e));
    await db.pool.query(`select pg_notify('phigate_grant_events', $1)`, [
      '{"origin":"x","event":{"type":"nope"}}',
    ]);
    await db.pool.query(`select pg_notify('phigate_grant_events', 'not json')`);
    await publish(a, event('g4'));
    await until(() => seen.length >= 1, 'the valid event');
    await sleep(100);
    assert.deepEqual(
      seen.map((e) => e.grantId),
      ['g4'],
    );
    off();
  });

  it('reconnects after its listener connection is killed', async () => {
    const seen: string[] = [];
    const off = b.subscribe((e) => seen.push(e.grantId));
    const killed = await db.pool.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where datname = current_database() and query ilike 'listen%' and application_name = 'phigate'`,
    );
    assert.ok(killed.rows[0]!.n >= 1, 'the listener backends were found and terminated');
    // Keep publishing until B's new listener is in place, then expect delivery.
    await until(
      async () => {
        await publish(a, event(`r${seen.length}`));
        return seen.length > 0;
      },
      'delivery after reconnect',
      10_000,
    );
    off();
  });

  it('delivers to other replicas with the commit alone: the announcing process may die right after it', async () => {
    const seen: string[] = [];
    // Only this test's events: the reconnect test above may still have announcements on their way.
    const off = b.subscribe((e) => e.grantId === 'committed-then-killed' && seen.push(e.grantId));
    // Committed, and the in-process delivery never called: as if replica A were killed the instant it committed.
    await db.db.transaction().execute((tx) => a.announce(tx, [event('committed-then-killed')]));
    await until(() => seen.length === 1, 'delivery by the commit');
    assert.deepEqual(seen, ['committed-then-killed']);
    off();
  });

  it('announces nothing when the change rolls back', async () => {
    const seen: string[] = [];
    const off = b.subscribe((e) => e.grantId.includes('rollback') && seen.push(e.grantId));
    await assert.rejects(
      db.db.transaction().execute(async (tx) => {
        await a.announce(tx, [event('rolled-back')]);
        throw new Error('the change failed after announcing');
      }),
      /the change failed/,
    );
    await publish(a, event('after-rollback'));
    await until(() => seen.length >= 1, 'the later event');
    await sleep(100);
    assert.deepEqual(seen, ['after-rollback']);
    off();
  });

  it('asks subscribers to read the store again when its listener is back after a loss', async () => {
    let resyncs = 0;
    const off = b.onResync(() => resyncs++);
    await db.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and query ilike 'listen%' and application_name = 'phigate'`,
    );
    await until(() => resyncs >= 1, 'a resync after the reconnect', 10_000);
    off();
  });
});
