/**
 * Alerts end to end on a real phigate: a break-glass grant raises an alert that reaches a real webhook receiver
 * (verifying with the standardwebhooks reference library) with a link back to the request; auditors list alerts
 * with their delivery state and replay a dead letter; every outcome is an audit event; metrics count them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { insertAlertEvent } from '../store/alert-event-repository.js';
import { runCli } from '../../test/support/cli.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import path from 'node:path';
import { until } from '../../test/support/helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.js';

const POLICY = `
version: 1
auditors: { groups: [privacy-office] }
administrators: { groups: [phigate-admins] }
resources: { clinic-db: { kind: postgres } }
roles:
  breakglass:
    resource: clinic-db
    eligibleGroups: [oncall]
    duration: { default: 30m, max: 1h }
    purposes: [ETREAT, BTG]
    emergency: true
`;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

describe('alerts end to end (break-glass → signed webhook; GET /v1/alerts; redeliver)', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let receiver: WebhookReceiver;
  let server: TestPhigate;
  const tokens: Record<string, string> = {};

  const call = async (who: string, method: string, url: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${server.phigate.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[who]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  type AlertItem = { id: number; deliveries: { status: string; attempts: number; lastError?: string }[] };
  const alerts = async (query = ''): Promise<AlertItem[]> =>
    (await call('priya', 'GET', `/v1/alerts${query}`)).body['items'] as AlertItem[];
  const auditActions = async (): Promise<string[]> =>
    (
      await server.phigate.store.db
        .selectFrom('audit_events')
        .select('action')
        .where('action', 'like', 'alert.%')
        .orderBy('seq')
        .execute()
    ).map((r) => r.action);

  const cliEnv = (user: string): Record<string, string> => ({
    PHIGATE_API_URL: server.phigate.url,
    PHIGATE_TOKEN: tokens[user]!,
    PHIGATE_TOKEN_CACHE: path.join(server.dir, `${user}-tokens.json`),
  });

  before(async () => {
    receiver = await startWebhookReceiver(secret);
    server = await startTestPhigate({
      policy: { source: POLICY, sourceName: 'alerts-policy.yaml' },
      files: { 'soc-secret.txt': `${secret}\n` },
      config: [
        'alerts:',
        '  maxAttempts: 2',
        '  backoff: { initial: 20ms, max: 50ms }',
        '  channels:',
        '    soc:',
        '      type: webhook',
        `      url: ${receiver.url}`,
        '      secret: { file: soc-secret.txt }',
        '  routes:',
        '    - kinds: [break-glass]',
        '      channels: [soc]',
        '',
      ].join('\n'),
    });
    for (const user of ['olivia', 'priya']) tokens[user] = await server.phigate.mintDevToken!(user);
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('delivers the break-glass alert, signed, linking to the request, without names or free text', async () => {
    const glass = await call('olivia', 'POST', '/v1/requests', {
      resource: 'clinic-db',
      role: 'breakglass',
      duration: '30m',
      purpose: 'ETREAT',
      justification: 'Unconscious patient Jane Roe in the emergency department',
    });
    assert.equal(glass.status, 201);
    const requestId = String(glass.body['id']);
    await until(() => receiver.received.some((r) => r.status === 200), 'the alert at the receiver', 10_000);
    const got = receiver.received[0]!;
    assert.equal(got.verified, true, 'verified by the standardwebhooks reference library');
    const body = JSON.parse(got.body) as { data: { link: string; kind: string; requestId: string } };
    assert.equal(body.data.kind, 'break-glass');
    assert.equal(body.data.requestId, requestId);
    assert.equal(body.data.link, `${server.phigate.url}/v1/requests/${requestId}`);
    for (const secretText of ['olivia', 'Olivia', 'Jane', 'Unconscious'])
      assert.ok(!got.body.includes(secretText));

    await until(async () => (await alerts())[0]?.deliveries[0]?.status === 'delivered', 'delivered state');
    const [alert] = await alerts();
    assert.equal(got.id, `phigate-alert-${alert!.id}`);
    assert.ok((await auditActions()).includes('alert.delivered'));
  });

  it('lists alerts for auditors only', async () => {
    const refused = await call('olivia', 'GET', '/v1/alerts');
    assert.equal(refused.status, 403);
    assert.equal(refused.body['code'], 'alert.auditors-only');
    assert.ok((await auditActions()).includes('alert.list'));
  });

  it('turns a failing delivery into a dead letter, and replays it on request with the same webhook-id', async () => {
    receiver.answer = () => 'fail';
    await server.phigate.store.db.transaction().execute((tx) =>
      insertAlertEvent(tx, {
        kind: 'break-glass',
        severity: 'critical',
        requestId: undefined,
        principalId: undefined,
        detail: {},
        createdAt: new Date(),
      }),
    );
    await until(async () => (await alerts('?status=dead')).length === 1, 'a dead letter', 10_000);
    const [dead] = await alerts('?status=dead');
    assert.equal(dead!.deliveries[0]!.attempts, 2);
    assert.equal(dead!.deliveries[0]!.lastError, 'HTTP 500');

    const notDead = await call('priya', 'POST', `/v1/alerts/${dead!.id - 1}/redeliver`);
    assert.equal(notDead.status, 409);
    assert.equal(notDead.body['code'], 'alert.not-dead');
    assert.equal((await call('priya', 'POST', '/v1/alerts/999999/redeliver')).status, 404);
    assert.equal((await call('priya', 'POST', '/v1/alerts/abc/redeliver')).status, 400);
    assert.equal((await call('olivia', 'POST', `/v1/alerts/${dead!.id}/redeliver`)).status, 403);

    const listed = await runCli(['alerts', '--dead'], cliEnv('priya'));
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(`^${dead!.id} .*critical\\s+break-glass .*soc: DEAD \\(2 attempts: HTTP 500\\)`, 'm'),
    );
    const notAuditor = await runCli(['alerts', 'redeliver', String(dead!.id)], cliEnv('olivia'));
    assert.notEqual(notAuditor.code, 0);
    assert.match(notAuditor.stderr, /auditors/);

    receiver.answer = () => 'ok';
    const replay = await runCli(
      ['--json', 'alerts', 'redeliver', String(dead!.id), '--channel', 'soc'],
      cliEnv('priya'),
    );
    assert.equal(replay.code, 0, replay.stderr);
    assert.deepEqual(JSON.parse(replay.stdout), { alertId: dead!.id, channels: ['soc'] });
    await until(async () => (await alerts())[0]?.deliveries[0]?.status === 'delivered', 'the replay', 10_000);
    const shown = await runCli(['alerts'], cliEnv('priya'));
    assert.match(shown.stdout, new RegExp(`^${dead!.id} .*soc: delivered`, 'm'));
    const forDead = receiver.received.filter((r) => r.id === `phigate-alert-${dead!.id}`);
    assert.deepEqual(
      forDead.map((r) => r.status),
      [500, 500, 200],
    );
    const actions = await auditActions();
    for (const a of ['alert.delivered', 'alert.retry', 'alert.dead', 'alert.redeliver'])
      assert.ok(actions.includes(a), a);
  });

  it('counts deliveries and the outbox in Prometheus metrics', async () => {
    const text = await (await fetch(`${server.phigate.url}/metrics`)).text();
    assert.match(text, /phigate_alert_deliveries_total\{channel="soc",outcome="delivered"\} 2/);
    assert.match(text, /phigate_alert_deliveries_total\{channel="soc",outcome="dead"\} 1/);
    assert.match(text, /phigate_alert_delivery_latency_seconds_count\{channel="soc"\} 2/);
    assert.match(text, /phigate_alert_outbox/);
  });
});
