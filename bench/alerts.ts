/**
 * Benchmark of alert delivery (issue 17, the delivery half), with the real worker, store and a local HTTP receiver:
 *
 *  1. Throughput: a burst of alerts committed at once, delivered as signed webhooks to one receiver (alerts/s).
 *  2. Latency: alerts raised one at a time (each its own transaction), from raising to the receiver's 200 (p50, p99),
 *     woken by NOTIFY.
 *
 *   npm run bench:alerts                      # embedded PostgreSQL in a temp dir
 *   PHIGATE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:alerts
 *
 * Options (env): BENCH_BURST (2000), BENCH_CONCURRENCY (32), BENCH_TRICKLE (300), BENCH_TRICKLE_GAP_MS (10).
 * The receiver answers 200 without verifying (verification is the receiver's CPU, not phigate's).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAuditWriter } from '../src/audit/audit-writer.js';
import { createDeliveryWorker } from '../src/alerts/delivery-worker.js';
import { createWebhookChannel } from '../src/alerts/webhook-channel.js';
import { systemClock } from '../src/lib/clock.js';
import { insertAlertEvent } from '../src/store/alert-event-repository.js';
import { benchDatabase, percentile, withServer } from './bench-db.js';

const BURST = Number(process.env.BENCH_BURST ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TRICKLE = Number(process.env.BENCH_TRICKLE ?? 300);
const GAP_MS = Number(process.env.BENCH_TRICKLE_GAP_MS ?? 10);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

await withServer(async (adminUrl) => {
  const store = await benchDatabase(adminUrl);
  let accepted = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      accepted++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const writer = createAuditWriter({ db: store.db, clock: systemClock });
  const latencies: number[] = [];
  let delivered = 0;
  const worker = createDeliveryWorker({
    db: store.db,
    pool: store.pool,
    channels: [
      createWebhookChannel({
        name: 'bench',
        url,
        format: 'json',
        hmacSecret: `whsec_${randomBytes(32).toString('base64')}`,
        userAgent: 'phigate-bench',
        clock: systemClock,
      }),
    ],
    routes: [{ channels: ['bench'] }],
    publicUrl: 'https://phigate.example.org',
    audit: writer,
    clock: systemClock,
    logger: quiet,
    maxAttempts: 5,
    backoff: { initialMs: 100, maxMs: 1000 },
    attemptTimeoutMs: 10_000,
    concurrency: CONCURRENCY,
    onOutcome: (_channel, outcome, timing) => {
      if (outcome !== 'delivered') return;
      delivered++;
      latencies.push(timing.sinceRaisedMs);
    },
  });
  await worker.start();
  const raise = (n: number) =>
    store.db.transaction().execute(async (tx) => {
      for (let i = 0; i < n; i++) {
        await insertAlertEvent(tx, {
          kind: 'break-glass',
          severity: 'critical',
          requestId: undefined,
          principalId: undefined,
          detail: { role: 'er-physician', resource: 'ehr' },
          createdAt: new Date(),
        });
      }
    });
  const waitFor = async (n: number) => {
    while (delivered < n) await sleep(2);
  };

  try {
    const started = performance.now();
    await raise(BURST);
    await waitFor(BURST);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `burst: ${BURST} alerts delivered in ${seconds.toFixed(2)} s = ${Math.round(BURST / seconds)} alerts/s ` +
        `(concurrency ${CONCURRENCY}; receiver accepted ${accepted})`,
    );

    latencies.length = 0;
    for (let i = 0; i < TRICKLE; i++) {
      await raise(1);
      await sleep(GAP_MS);
    }
    await waitFor(BURST + TRICKLE);
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `one at a time (${TRICKLE}, every ${GAP_MS} ms): raised → accepted p50 ${percentile(sorted, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`,
    );
  } finally {
    await worker.stop();
    await writer.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await store.drop();
  }
});
