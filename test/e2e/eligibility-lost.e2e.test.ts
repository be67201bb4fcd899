/**
 * A grant outlives nothing it was granted for: a person who is no longer in one of the role's eligible groups (the
 * identity provider dropped them from the group, or the policy narrowed the role) is refused at the API when asking
 * for a connection and at the gateway when signing in with their OIDC token, and the grant ends at that moment —
 * revoked by the system with the end reason `eligibility-lost`, announced to every replica (live sessions are cut).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gatewayPolicy, startGatewayFixture, type GatewayFixture } from '../support/gateway.js';

/** The same policy, with the reader role now for clinical leads only: Dan (an analyst) is no longer eligible. */
const narrowed = gatewayPolicy().replace(
  /reader:\n(\s+)resource: clinic\n\s+eligibleGroups: \[analysts\]/,
  'reader:\n$1resource: clinic\n$1eligibleGroups: [clinical-leads]',
);

describe('a grant whose holder lost eligibility', () => {
  let f: GatewayFixture;
  before(async () => {
    assert.notEqual(narrowed, gatewayPolicy(), 'the narrowed policy differs');
    f = await startGatewayFixture();
  });
  after(async () => {
    await f?.stop();
  });

  const setPolicy = (text: string): void => {
    writeFileSync(path.join(f.test.dir, 'policy.yaml'), text);
    const reloaded = f.phigate.reloadPolicy();
    assert.equal(reloaded.ok, true, reloaded.problems.join('\n'));
  };
  const ending = (grantId: string) =>
    f.phigate.store.db
      .selectFrom('access_requests')
      .select(['status', 'end_reason', 'ended_by'])
      .where('id', '=', grantId)
      .executeTakeFirstOrThrow();

  it('is refused a connection token, and the grant ends (eligibility-lost), cutting its live session', async () => {
    setPolicy(gatewayPolicy());
    const grantId = await f.grant('dan');
    const live = f.client('dan', (await f.connection('dan')).body.gateway.password);
    live.on('error', () => undefined);
    await live.connect();
    const running = live.query('select pg_sleep(30)').then(
      () => assert.fail('the session outlived the grant'),
      (e: unknown) => e as Error,
    );
    setPolicy(narrowed);
    const answer = await f.connection('dan');
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, 'grant.eligibility-lost');
    assert.match(answer.body.detail ?? '', /no longer in a group eligible for reader/);
    assert.deepEqual(await ending(grantId), {
      status: 'revoked',
      end_reason: 'eligibility-lost',
      ended_by: 'system',
    });
    assert.match((await running).message, /was revoked at/);
    const actions = await f.auditActions(grantId);
    const revoke = actions.find((a) => a.action === 'grant.revoke');
    assert.ok(revoke, 'the end is audited');
    assert.match(revoke.canonical, /"endReason":"eligibility-lost"/);
    await live.end().catch(() => undefined);
  });

  it('is refused at the gateway when signing in with an OIDC token, and the grant ends', async () => {
    setPolicy(gatewayPolicy());
    const grantId = await f.grant('dan');
    setPolicy(narrowed);
    const client = f.client('dan', await f.phigate.mintDevToken!('dan'));
    client.on('error', () => undefined);
    const err = (await client.connect().then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    )) as { code?: string; message: string };
    assert.equal(err.code, '28000');
    assert.match(err.message, /no longer in a group eligible for reader/);
    assert.deepEqual(await ending(grantId), {
      status: 'revoked',
      end_reason: 'eligibility-lost',
      ended_by: 'system',
    });
    const refused = await f.phigate.store.db
      .selectFrom('audit_events')
      .select('reason_code')
      .where('action', '=', 'session.refuse')
      .where('reason_code', '=', 'grant.eligibility-lost')
      .execute();
    assert.equal(refused.length, 1, 'the refused sign-in is recorded');
    setPolicy(gatewayPolicy());
  });
});
