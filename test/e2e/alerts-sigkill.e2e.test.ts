/**
 * "phigate SIGKILLed mid-delivery and restarted: no alert lost, duplicates only with the same webhook id." A real
 * phigate replica process claims a break-glass alert and is killed while the receiver holds its POST; another
 * replica delivers it once the dead one's claim has lapsed, with the same webhook-id, verified by the standardwebhooks
 * reference library.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestPhigate, type TestPhigate } from '../support/phigate.js';
import { until } from '../support/helpers.js';
import type { ReplicaProcess } from '../support/replica-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const POLICY = `
version: 1
auditors: { groups: [privacy-office] }
resources: { clinic-db: { kind: postgres } }
roles:
  breakglass:
    resource: clinic-db
    eligibleGroups: [oncall]
    duration: { default: 30m, max: 1h }
    purposes: [ETREAT, BTG]
    emergency: true
`;

const BASE = 'policy: { file: policy.yaml, watch: false }\n';

describe('alert delivery across a SIGKILL of the delivering phigate', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let receiver: WebhookReceiver;
  let server: TestPhigate;
  const replicas: ReplicaProcess[] = [];

  before(async () => {
    receiver = await startWebhookReceiver(secret);
    // The in-process phigate delivers nothing (no channels): only the replica processes do, and one is killed.
    server = await startTestPhigate({
      config: BASE,
      files: { 'policy.yaml': POLICY, 'soc-secret.txt': secret },
    });
    writeFileSync(
      path.join(server.dir, 'phigate.yaml'),
      [
        BASE,
        'alerts:',
        // A short attempt limit: the claim of a dead replica lapses after 2 × 1s + 5s.
        '  attemptTimeout: 1s',
        '  channels:',
        '    soc:',
        '      type: webhook',
        `      url: ${receiver.url}`,
        '      secret: { file: soc-secret.txt }',
        '  routes:',
        '    - channels: [soc]',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    for (const r of replicas)
      if (r.child.exitCode === null && r.child.signalCode === null) await r.kill('SIGTERM');
    await server.stop();
    await receiver.close();
  });

  it('loses no alert, and the repeat carries the same webhook-id', async () => {
    receiver.answer = () => 'hang';
    const first = await server.startReplicaProcess([]);
    replicas.push(first);
    const token = await server.phigate.mintDevToken!('olivia');
    const res = await fetch(`${server.phigate.url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        resource: 'clinic-db',
        role: 'breakglass',
        duration: '30m',
        purpose: 'ETREAT',
        justification: 'Unconscious patient in the emergency department',
      }),
    });
    assert.equal(res.status, 201);
    await until(() => receiver.received.length === 1, 'the first attempt at the receiver', 20_000);
    assert.equal(await first.kill('SIGKILL'), 'SIGKILL');
    receiver.releaseHanging();
    receiver.answer = () => 'ok';

    const second = await server.startReplicaProcess([]);
    replicas.push(second);
    await until(
      () => receiver.received.some((r) => r.status === 200),
      'delivery by the second replica',
      60_000,
    );

    const ids = new Set(receiver.received.map((r) => r.id));
    assert.equal(ids.size, 1, 'every attempt carries the one webhook-id');
    assert.ok(receiver.received.every((r) => r.verified === true));
    const db = server.phigate.store.db;
    const recorded = () => db.selectFrom('alert_deliveries').selectAll().executeTakeFirstOrThrow();
    await until(async () => (await recorded()).status === 'delivered', 'the delivery recorded', 10_000);
    const delivery = await recorded();
    assert.equal(delivery.attempts, 2, 'the killed attempt counts');
    assert.equal(`phigate-alert-${delivery.alert_id}`, [...ids][0]);
    const delivered = await db
      .selectFrom('audit_events')
      .select('action')
      .where('action', '=', 'alert.delivered')
      .execute();
    assert.equal(delivered.length, 1);
  });
});
