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

  it('delivers to local subscribers at once and to the other replica exactly once, ignoring own echoes', async () => {
    const seenA: string[] = [];
    const seenB: string[] = [];
    const offA = a.subscribe((e) => seenA.push(e.grantId));
    const offB = b.subscribe((e) => seenB.push(e.grantId));
    a.publish(event('g1'));
    assert.deepEqual(seenA, ['g1'], 'in-process delivery is synchronous');
    b.publish(event('g2', 'grant.expired'));
    await until(() => seenA.length === 2 && seenB.length === 2, 'cross-replica delivery');
    await sleep(150); // an echo would arrive within this window
    assert.deepEqual(seenA, ['g1', 'g2']);
    assert.deepEqual(seenB, ['g2', 'g1']);
    offA();
    offB();
  });

  it('carries a burst of events in order, packed into notifications under the size limit', async () => {
    const seen: string[] = [];
    const off = b.subscribe((e) => seen.push(e.grantId));
    const ids = Array.from({ length: 500 }, (_, i) => `burst-${i}`);
    for (const id of ids) a.publish(event(id, 'grant.expired'));
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
    a.publish(event('g3'));
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
    a.publish(event('g4'));
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
      () => {
        a.publish(event(`r${seen.length}`));
        return seen.length > 0;
      },
      'delivery after reconnect',
      10_000,
    );
    off();
  });
});
