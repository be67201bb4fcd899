/**
 * The grant's end reaches sessions on every replica, and survives a phigate that was down when it came: a
 * revocation on replica A cuts a session that replica B's gateway relays (the grant event bus, LISTEN/NOTIFY), and
 * a phigate that restarts after a grant ended while it was down removes that grant's database role before it
 * accepts anyone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { RunningPhigate } from '../../src/server/start.js';
import { startGatewayFixture, type GatewayFixture, RESOURCE } from '../support/gateway.js';
import { until } from '../support/helpers.js';

describe('gateway across replicas and restarts', () => {
  let f: GatewayFixture;
  let replica: RunningPhigate | undefined;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => {
    await replica?.stop();
    await f?.stop();
  });

  it('a revocation on one replica cuts the session another replica relays, and drops the role', async () => {
    replica = await f.test.startReplica();
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    // The token minted by replica A opens replica B's gateway: they share the key.
    const client = new pg.Client({
      host: '127.0.0.1',
      port: replica.gateway!.port,
      user: 'dan',
      password: body.gateway.password,
      database: RESOURCE,
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => undefined);
    await client.connect();
    const role = (await client.query<{ u: string }>('select current_user as u')).rows[0]!.u;
    const running = client.query('select pg_sleep(60)').then(
      () => assert.fail('the query outlived the grant'),
      (e: unknown) => e as Error,
    );
    await sleep(200);
    await f.revoke('dan', grantId); // on replica A
    const err = await running;
    assert.match(err.message, /was revoked at/);
    await until(
      async () =>
        (await f.protectedDb.query('select 1 from pg_roles where rolname = $1', [role])).length === 0,
      'role dropped',
      5_000,
    );
    await client.end().catch(() => undefined);
  });

  it('a restart after a grant ended while phigate was down removes the leftover role', async () => {
    await replica?.stop();
    replica = undefined;
    const grantId = await f.grant('dan', 'reader', '2s');
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    await client.end();
    const role = `phigate_g_${grantId.replaceAll('-', '')}`;
    assert.equal((await f.protectedDb.query('select 1 from pg_roles where rolname = $1', [role])).length, 1);
    // Down before the end: nothing of this phigate is there to drop the role when the grant ends.
    await f.phigate.stop();
    await sleep(2_500);
    assert.equal((await f.protectedDb.query('select 1 from pg_roles where rolname = $1', [role])).length, 1);
    replica = await f.test.startReplica();
    // Started means swept: the role is gone before the gateway accepts anyone.
    assert.equal((await f.protectedDb.query('select 1 from pg_roles where rolname = $1', [role])).length, 0);
  });
});
