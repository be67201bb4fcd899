import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { createAuditWriter, type AuditWriter } from '../audit/audit-writer.js';
import { systemClock } from '../lib/clock.js';
import { insertAlertEvent } from '../store/alert-event-repository.js';
import {
  claimDueDeliveries,
  listAlertsWithDeliveries,
  redeliverDead,
  routeNewAlerts,
} from '../store/alert-delivery-repository.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { until } from '../../test/support/helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { createDeliveryWorker, type DeliveryWorker } from './delivery-worker.js';
import { createWebhookChannel } from './webhook-channel.js';

const logger = pino({ level: 'silent' });
const secret = `whsec_${randomBytes(32).toString('base64')}`;

describe('alert delivery worker (real PostgreSQL, real HTTP receiver verifying with standardwebhooks)', () => {
  let db: TestDatabase;
  let writer: AuditWriter;
  let receiver: WebhookReceiver;
  const workers: DeliveryWorker[] = [];
  /** The audit log is append-only: each test reads the events after this one. */
  let auditBefore = 0;

  const raise = (n = 1): Promise<void> =>
    db.db.transaction().execute(async (tx) => {
      for (let i = 0; i < n; i++) {
        await insertAlertEvent(tx, {
          kind: 'break-glass',
          severity: 'critical',
          requestId: undefined,
          principalId: 'https://idp.test#dana',
          detail: {
            role: 'er-physician',
            resource: 'ehr',
            purpose: 'ETREAT',
            reviewItemId: 'x',
            name: 'Dana',
          },
          createdAt: new Date(),
        });
      }
    });

  const worker = (
    overrides: { maxAttempts?: number; pollMs?: number; attemptTimeoutMs?: number; ed25519?: KeyObject } = {},
  ) => {
    const w = createDeliveryWorker({
      db: db.db,
      pool: db.pool,
      channels: [
        createWebhookChannel({
          name: 'soc',
          url: receiver.url,
          format: 'json',
          hmacSecret: secret,
          ed25519: overrides.ed25519,
          userAgent: 'phigate-test',
          clock: systemClock,
        }),
      ],
      routes: [{ channels: ['soc'] }],
      publicUrl: 'https://phigate.example.org/',
      audit: writer,
      clock: systemClock,
      logger,
      maxAttempts: overrides.maxAttempts ?? 5,
      backoff: { initialMs: 20, maxMs: 100 },
      attemptTimeoutMs: overrides.attemptTimeoutMs ?? 5_000,
      // Long: the tests below pass only if NOTIFY and the retry timer wake the worker.
      pollMs: overrides.pollMs ?? 60_000,
    });
    workers.push(w);
    return w;
  };

  const deliveries = async () => (await listAlertsWithDeliveries(db.db, { limit: 1000 })).reverse();
  const auditActions = async (): Promise<string[]> =>
    (
      await db.db
        .selectFrom('audit_events')
        .select('action')
        .where('action', 'like', 'alert.%')
        .where('seq', '>', auditBefore)
        .orderBy('seq')
        .execute()
    ).map((r) => r.action);
  const accepted = () => receiver.received.filter((r) => r.status === 200);

  before(async () => {
    db = await createTestDatabase();
    writer = createAuditWriter({ db: db.db, clock: systemClock });
  });
  beforeEach(async () => {
    const head = await db.db.selectFrom('audit_head').select('last_seq').executeTakeFirstOrThrow();
    auditBefore = head.last_seq;
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    await receiver.close();
    await db.db.deleteFrom('alert_deliveries').execute();
    await db.db.deleteFrom('alert_events').execute();
  });
  after(async () => {
    await writer.close();
    await db.drop();
  });

  it('delivers a new alert at once, signed (v1 and v1a), with its id as webhook-id, no PHI, and audits it', async () => {
    const keys = generateKeyPairSync('ed25519');
    receiver = await startWebhookReceiver(secret, 0, keys.publicKey);
    await worker({ ed25519: keys.privateKey }).start();
    await raise();
    await until(async () => (await deliveries())[0]?.deliveries[0]?.status === 'delivered', 'delivery');
    const [alert] = await deliveries();
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0]!;
    assert.equal(got.verified, true, 'v1 verified by the standardwebhooks reference library');
    assert.equal(got.verifiedV1a, true, 'v1a verified with the public key');
    assert.equal(got.id, `phigate-alert-${alert!.id}`);
    const body = JSON.parse(got.body) as { type: string; data: Record<string, unknown> };
    assert.equal(body.type, 'alert.raised');
    assert.equal(body.data.kind, 'break-glass');
    assert.equal(body.data.severity, 'critical');
    assert.deepEqual(body.data.evidence, {
      role: 'er-physician',
      resource: 'ehr',
      purpose: 'ETREAT',
      reviewItemId: 'x',
    });
    assert.ok(!got.body.includes('Dana') && !got.body.includes('dana'), 'no name, no principal');
    assert.deepEqual(await auditActions(), ['alert.delivered']);
    assert.equal(alert!.deliveries[0]!.attempts, 1);
  });

  it('retries a receiver answering 500s with the same webhook-id until it recovers', async () => {
    receiver = await startWebhookReceiver(secret);
    receiver.answer = ({ n }) => (n < 2 ? 'fail' : 'ok');
    await worker().start();
    await raise();
    await until(async () => (await deliveries())[0]?.deliveries[0]?.status === 'delivered', 'delivery');
    assert.deepEqual(
      receiver.received.map((r) => r.status),
      [500, 500, 200],
    );
    assert.equal(new Set(receiver.received.map((r) => r.id)).size, 1, 'one webhook-id for every retry');
    assert.ok(receiver.received.every((r) => r.verified === true));
    assert.deepEqual(await auditActions(), ['alert.retry', 'alert.retry', 'alert.delivered']);
    assert.equal((await deliveries())[0]!.deliveries[0]!.attempts, 3);
  });

  it('keeps trying a receiver that is down until it is back', async () => {
    receiver = await startWebhookReceiver(secret);
    await receiver.close();
    await worker({ maxAttempts: 1000 }).start();
    await raise();
    await until(async () => ((await deliveries())[0]?.deliveries[0]?.attempts ?? 0) >= 3, 'failed attempts');
    const failing = (await deliveries())[0]!.deliveries[0]!;
    assert.equal(failing.status, 'pending');
    assert.match(failing.lastError ?? '', /connection failed \(ECONNREFUSED\)/);
    await receiver.reopen();
    await until(async () => (await deliveries())[0]?.deliveries[0]?.status === 'delivered', 'delivery');
    assert.equal(accepted().length, 1);
  });

  it('gives up after maxAttempts (a dead letter, audited) and delivers it again when replayed', async () => {
    receiver = await startWebhookReceiver(secret);
    receiver.answer = () => 'fail';
    const w = worker({ maxAttempts: 3 });
    await w.start();
    await raise();
    await until(async () => (await deliveries())[0]?.deliveries[0]?.status === 'dead', 'dead letter');
    assert.deepEqual(await auditActions(), ['alert.retry', 'alert.retry', 'alert.dead']);
    const [dead] = await deliveries();
    assert.equal(dead!.deliveries[0]!.attempts, 3);
    assert.equal(dead!.deliveries[0]!.lastError, 'HTTP 500');

    receiver.answer = () => 'ok';
    assert.deepEqual(await redeliverDead(db.db, dead!.id, undefined, new Date()), ['soc']);
    w.wake();
    await until(
      async () => (await deliveries())[0]?.deliveries[0]?.status === 'delivered',
      'replayed delivery',
    );
    assert.equal(accepted().length, 1);
    assert.equal(new Set(receiver.received.map((r) => r.id)).size, 1);
  });

  it('gives an attempt back when stopped mid-delivery; the next worker delivers it with the same webhook-id', async () => {
    receiver = await startWebhookReceiver(secret);
    receiver.answer = ({ n }) => (n === 0 ? 'hang' : 'ok');
    const first = worker();
    await first.start();
    await raise();
    await until(() => receiver.received.length === 1, 'the first attempt to arrive');
    await first.stop();
    const pending = (await deliveries())[0]!.deliveries[0]!;
    assert.equal(pending.status, 'pending');
    assert.equal(pending.attempts, 0, 'an interrupted attempt is not counted');
    await worker().start();
    await until(async () => (await deliveries())[0]?.deliveries[0]?.status === 'delivered', 'delivery');
    assert.equal(new Set(receiver.received.map((r) => r.id)).size, 1, 'the duplicate carries the same id');
    assert.deepEqual(await auditActions(), ['alert.delivered']);
  });

  it('takes over the claim of a worker that died holding it once its lease ends', async () => {
    receiver = await startWebhookReceiver(secret);
    await raise();
    await routeNewAlerts(db.db, () => ['soc'], new Date(), 100);
    // A worker claims and dies (no outcome, no release): its lease is all that is left of it.
    const now = new Date();
    const claimed = await claimDueDeliveries(db.db, {
      claimId: '00000000-0000-4000-8000-000000000000',
      now,
      leaseUntil: new Date(now.getTime() + 300),
      limit: 10,
      channels: ['soc'],
    });
    assert.equal(claimed.length, 1);
    await worker().start();
    await until(async () => (await deliveries())[0]?.deliveries[0]?.status === 'delivered', 'delivery');
    assert.equal(accepted().length, 1);
    assert.equal((await deliveries())[0]!.deliveries[0]!.attempts, 2, 'the dead worker’s attempt counts');
  });

  it('loses no alert while the receiver fails now and then and workers stop and start mid-stream', async () => {
    receiver = await startWebhookReceiver(secret);
    // Deterministic faults: every third request is answered 500, every seventh hangs until the test ends it.
    receiver.answer = ({ n }) => (n % 3 === 0 ? 'fail' : n % 7 === 0 ? 'hang' : 'ok');
    const first = worker({ maxAttempts: 1000, attemptTimeoutMs: 500 });
    await Promise.all([first.start(), worker({ maxAttempts: 1000, attemptTimeoutMs: 500 }).start()]);
    await raise(30);
    await until(() => accepted().length >= 10, 'some deliveries', 20_000);
    await first.stop();
    await raise(30);
    await worker({ maxAttempts: 1000, attemptTimeoutMs: 500 }).start();
    await until(
      async () => (await deliveries()).every((a) => a.deliveries[0]?.status === 'delivered'),
      'every delivery',
      60_000,
    );
    receiver.releaseHanging();
    const all = await deliveries();
    assert.equal(all.length, 60);
    const acceptedIds = new Set(accepted().map((r) => r.id));
    for (const a of all)
      assert.ok(acceptedIds.has(`phigate-alert-${a.id}`), `alert ${a.id} reached the receiver`);
    assert.ok(receiver.received.every((r) => r.verified === true));
    // Duplicates there may be (an attempt cut short by a stop or a time-out), but each under its alert's one id.
    assert.ok(receiver.received.every((r) => /^phigate-alert-\d+$/.test(r.id)));
  });

  it('two workers on one outbox deliver every alert exactly once when nothing fails', async () => {
    receiver = await startWebhookReceiver(secret);
    await Promise.all([worker().start(), worker().start()]);
    await raise(40);
    await raise(40);
    await until(
      async () => (await deliveries()).every((a) => a.deliveries[0]?.status === 'delivered'),
      'every delivery',
      20_000,
    );
    assert.equal((await deliveries()).length, 80);
    const ids = accepted().map((r) => r.id);
    assert.equal(ids.length, 80);
    assert.equal(new Set(ids).size, 80, 'no alert delivered twice');
    assert.ok(receiver.received.every((r) => r.verified === true));
  });
});
