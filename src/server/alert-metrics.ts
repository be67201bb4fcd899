/**
 * Alert delivery metrics: outcomes per channel and their timing, counted where attempts happen, and the outbox's
 * depth (pending and dead deliveries, all replicas), read from the store when Prometheus scrapes.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryOutcome, DeliveryTiming } from '../alerts/delivery-worker.js';
import type { Db } from '../store/database.js';
import { outboxDepth } from '../store/alert-delivery-repository.js';

export function createAlertMetrics(o: {
  readonly registry: Registry;
  readonly db: Db;
  readonly onError: (err: unknown) => void;
}): (channel: string, outcome: DeliveryOutcome, timing: DeliveryTiming) => void {
  const registers = [o.registry];
  new Gauge({
    name: 'phigate_alert_outbox',
    help: 'Alert deliveries waiting (pending) and given up (dead), by channel, all replicas (from the store, at scrape)',
    labelNames: ['channel', 'status'] as const,
    registers,
    async collect() {
      this.reset();
      try {
        for (const r of await outboxDepth(o.db)) this.set({ channel: r.channel, status: r.status }, r.count);
      } catch (err) {
        o.onError(err);
      }
    },
  });
  const outcomes = new Counter({
    name: 'phigate_alert_deliveries_total',
    help: 'Alert delivery attempts by this process, by channel and outcome: delivered, retry, dead',
    labelNames: ['channel', 'outcome'] as const,
    registers,
  });
  const attempt = new Histogram({
    name: 'phigate_alert_delivery_attempt_seconds',
    help: 'Duration of each alert delivery attempt, by channel',
    labelNames: ['channel'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers,
  });
  const latency = new Histogram({
    name: 'phigate_alert_delivery_latency_seconds',
    help: 'From an alert being raised to its delivery on a channel (retries included)',
    labelNames: ['channel'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200],
    registers,
  });
  return (channel, outcome, timing) => {
    outcomes.inc({ channel, outcome });
    attempt.observe({ channel }, timing.attemptMs / 1000);
    if (outcome === 'delivered') latency.observe({ channel }, Math.max(0, timing.sinceRaisedMs) / 1000);
  };
}
