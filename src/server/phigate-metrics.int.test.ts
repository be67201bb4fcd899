/**
 * phigate's own metrics on a real phigate with its gateway in front of a real protected database (issue 14 item 13):
 * the scrape follows grants, pending requests, gateway sessions and statements, audit appends and expiries as they
 * happen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  gatewayPolicy,
  RESOURCE,
  startGatewayFixture,
  type GatewayFixture,
} from '../../test/support/gateway.js';
import { until } from '../../test/support/helpers.js';

/** One sample's value from the text exposition, or undefined when absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('phigate metrics', () => {
  let f: GatewayFixture;
  const scrape = async (): Promise<string> => (await fetch(new URL('/metrics', f.phigate.url))).text();

  before(async () => {
    f = await startGatewayFixture({
      policy: gatewayPolicy(`  asked:
    resource: ${RESOURCE}
    eligibleGroups: [support]
    access:
      public.encounters: { columns: [id], operations: [SELECT] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
  brief:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.encounters: { columns: [id], operations: [SELECT] }
    duration: { default: 1s, max: 1h }
    purposes: [HOPERAT]
    approval: auto
`),
    });
  });
  after(async () => {
    await f?.stop();
  });

  it('counts active grants by role and pending requests from the store', async () => {
    const before = await scrape();
    assert.equal(sample(before, 'phigate_active_grants', '{role="reader"}'), undefined);
    assert.equal(sample(before, 'phigate_pending_requests'), 0);

    const grantId = await f.grant('dan');
    const asked = await f.api('alice', 'POST', '/v1/requests', {
      resource: RESOURCE,
      role: 'asked',
      purpose: 'HOPERAT',
      justification: 'Metrics test of the synthetic clinic',
    });
    assert.equal(asked.body['status'], 'pending');
    const during = await scrape();
    assert.equal(sample(during, 'phigate_active_grants', '{role="reader"}'), 1);
    assert.equal(sample(during, 'phigate_pending_requests'), 1);
    assert.ok(
      sample(during, 'phigate_audit_events')! > sample(before, 'phigate_audit_events')!,
      'appends counted',
    );
    assert.equal(sample(during, 'phigate_audit_backlog'), 0);

    await f.revoke('dan', grantId);
    assert.equal(sample(await scrape(), 'phigate_active_grants', '{role="reader"}'), undefined);
  });

  it('counts gateway sessions and statements by outcome', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    const before = await scrape();
    await client.connect();
    try {
      await client.query('select id from encounters');
      await assert.rejects(client.query("select pg_read_file('/etc/passwd')"), { code: '42501' });
      await assert.rejects(client.query('select nope from encounters'));
      // A statement is counted when the relay sees its completion, which may be just after the client has read the
      // answer: wait until the failure is counted, then check every count.
      let during = await scrape();
      const delta = (outcome: string): number =>
        (sample(during, 'phigate_gateway_statements_total', `{outcome="${outcome}"}`) ?? 0) -
        (sample(before, 'phigate_gateway_statements_total', `{outcome="${outcome}"}`) ?? 0);
      await until(async () => {
        during = await scrape();
        return delta('failure') >= 1;
      }, 'the failed statement to be counted');
      assert.equal(sample(during, 'phigate_gateway_sessions'), 1);
      assert.ok(delta('success') >= 1, `success ${delta('success')}`);
      assert.equal(delta('refused'), 1);
    } finally {
      await client.end();
    }
    await until(async () => sample(await scrape(), 'phigate_gateway_sessions') === 0, 'the session to end');
    await f.revoke('dan', grantId);
  });

  it('observes how late each grant was expired', async () => {
    const before = sample(await scrape(), 'phigate_grant_expiry_lateness_seconds_count') ?? 0;
    await f.grant('dan', 'brief', '1s');
    await until(
      async () => (sample(await scrape(), 'phigate_grant_expiry_lateness_seconds_count') ?? 0) > before,
      'the grant to expire',
      10_000,
    );
  });
});
