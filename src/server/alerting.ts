/**
 * Alerting in a phigate process: the delivery worker (only where channels are configured; every replica may run it,
 * claims never overlap) and the auditors' alert service. Wired here so that start.ts stays a list of parts.
 */
import type { Registry } from 'prom-client';
import { createAlertService, type AlertService } from '../alerts/alert-service.js';
import type { AlertChannel } from '../alerts/channel.js';
import { createDeliveryWorker, type DeliveryWorker } from '../alerts/delivery-worker.js';
import type { AuditEventInput } from '../audit/event.js';
import type { AlertsConfig } from '../config/alerts-schema.js';
import { durationMs } from '../config/schema.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { DatabaseHandle } from '../store/database.js';
import { createAlertMetrics } from './alert-metrics.js';

export interface Alerting {
  /** Undefined when no channel is configured. */
  readonly delivery: DeliveryWorker | undefined;
  readonly service: AlertService;
}

export function createAlerting(o: {
  readonly config: AlertsConfig;
  /** Built (secrets read) before the store was opened. */
  readonly channels: readonly AlertChannel[];
  readonly store: Pick<DatabaseHandle, 'db' | 'pool'>;
  readonly audit: { append(events: readonly AuditEventInput[]): Promise<number[]> };
  readonly isAuditor: (p: Principal) => boolean;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly publicUrl: string;
}): Alerting {
  const delivery =
    o.channels.length === 0
      ? undefined
      : createDeliveryWorker({
          db: o.store.db,
          pool: o.store.pool,
          channels: o.channels,
          routes: o.config.routes,
          publicUrl: o.publicUrl,
          audit: o.audit,
          clock: o.clock,
          logger: o.logger,
          maxAttempts: o.config.maxAttempts,
          backoff: {
            initialMs: durationMs(o.config.backoff.initial),
            maxMs: durationMs(o.config.backoff.max),
          },
          attemptTimeoutMs: durationMs(o.config.attemptTimeout),
          concurrency: o.config.concurrency,
          onOutcome: createAlertMetrics({
            registry: o.registry,
            db: o.store.db,
            onError: (err) => o.logger.warn({ err }, 'a metric could not be read from the store'),
          }),
        });
  const service = createAlertService({
    db: o.store.db,
    audit: o.audit,
    isAuditor: o.isAuditor,
    clock: o.clock,
    publicUrl: o.publicUrl,
    wake: () => delivery?.wake(),
  });
  return { delivery, service };
}
