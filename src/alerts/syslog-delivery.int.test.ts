/**
 * A SIEM that is down and comes back: the worker keeps trying a real rsyslogd (TLS, openssl driver) on its port
 * until it is up again, and the alert arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createAuditWriter, type AuditWriter } from '../audit/audit-writer.js';
import { systemClock } from '../lib/clock.js';
import { insertAlertEvent } from '../store/alert-event-repository.js';
import { listAlertsWithDeliveries } from '../store/alert-delivery-repository.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { until } from '../../test/support/helpers.js';
import { startRsyslog, type Rsyslog } from '../../test/support/rsyslog.js';
import { createDeliveryWorker, type DeliveryWorker } from './delivery-worker.js';
import { createSyslogChannel } from './syslog-channel.js';

describe('alert delivery to a syslog server that is down, then back (real rsyslogd)', () => {
  let db: TestDatabase;
  let writer: AuditWriter;
  let worker: DeliveryWorker | undefined;
  let rsyslog: Rsyslog | undefined;
  before(async () => {
    db = await createTestDatabase();
    writer = createAuditWriter({ db: db.db, clock: systemClock });
  });
  after(async () => {
    await worker?.stop();
    await rsyslog?.stop();
    await writer.close();
    await db.drop();
  });

  it('retries while the server is down and delivers once it listens again', async () => {
    const first = await startRsyslog();
    const { port, cert } = first;
    await first.stop();
    worker = createDeliveryWorker({
      db: db.db,
      pool: db.pool,
      channels: [
        createSyslogChannel({
          name: 'siem',
          host: '127.0.0.1',
          port,
          format: 'rfc5424',
          header: {
            facility: 10,
            hostname: 'gw-1',
            appName: 'phigate',
            sdId: 'phigate@32473',
            version: '0.1.0',
          },
          ca: cert.certPem,
        }),
      ],
      routes: [{ channels: ['siem'] }],
      publicUrl: 'https://phigate.example.org',
      audit: writer,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      maxAttempts: 1000,
      backoff: { initialMs: 20, maxMs: 200 },
      attemptTimeoutMs: 5_000,
    });
    await worker.start();
    await db.db.transaction().execute((tx) =>
      insertAlertEvent(tx, {
        kind: 'break-glass',
        severity: 'critical',
        requestId: undefined,
        principalId: undefined,
        detail: { role: 'er-physician' },
        createdAt: new Date(),
      }),
    );
    const state = async () => (await listAlertsWithDeliveries(db.db, { limit: 1 }))[0]?.deliveries[0];
    await until(async () => ((await state())?.attempts ?? 0) >= 2, 'failed attempts', 10_000);
    assert.match((await state())?.lastError ?? '', /connection failed \(ECONNREFUSED\)/);

    rsyslog = await startRsyslog({ port, cert });
    await until(async () => (await state())?.status === 'delivered', 'delivery', 20_000);
    const [alert] = await listAlertsWithDeliveries(db.db, { limit: 1 });
    await until(
      () => rsyslog!.lines().some((l) => l.includes(`phigate-alert-${alert!.id}`)),
      'the line',
      10_000,
    );
  });
});
