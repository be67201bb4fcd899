/**
 * The access side of a starting phigate: the access service, the metrics, the expiry scheduler (every overdue grant
 * ends before anything is served) and the care-relation watch (created here, started once the app listens).
 */
import type { Registry } from 'prom-client';
import { createAccessService } from '../access/access-service.js';
import { createCareRelationWatch, type CareRelationWatch } from '../access/care-relation-watch.js';
import type { GrantEventBusHandle } from '../access/event-bus.js';
import { createExpiryScheduler } from '../access/expiry-scheduler.js';
import type { AccessService } from '../access/types.js';
import type { AuditService } from '../audit/audit-service.js';
import { durationMs } from '../config/load.js';
import { systemClock } from '../lib/clock.js';
import { createMetricsRegistry } from './metrics.js';
import { createPhigateMetrics, type PhigateMetrics } from './phigate-metrics.js';
import type { StartContext } from './start-context.js';
import type { OpenedProtectedDatabase } from './start-protected.js';

export interface StartedAccess {
  readonly access: AccessService;
  readonly registry: Registry;
  readonly metrics: PhigateMetrics;
  readonly careWatch: CareRelationWatch;
}

export async function startAccess(
  ctx: StartContext,
  deps: {
    readonly audit: AuditService;
    readonly bus: GrantEventBusHandle;
    readonly opened: OpenedProtectedDatabase;
    /** Live gateway sessions, once a gateway is started (it starts later). */
    readonly gatewaySessions: () => number | undefined;
  },
): Promise<StartedAccess> {
  const { store, policies, logger } = ctx;
  const { audit, bus } = deps;
  const { protectedDb, gatewayConfig } = deps.opened;
  const { careRelations } = protectedDb;
  const access = createAccessService({
    db: store.db,
    policies,
    clock: systemClock,
    bus,
    logger,
    replicaId: ctx.replicaId,
    pseudonymizer: audit.pseudonymizer,
    careRelations,
    patients: protectedDb.patients,
  });
  const registry = createMetricsRegistry();
  const metrics = createPhigateMetrics({
    registry,
    db: store.db,
    clock: systemClock,
    auditBacklog: () => audit.writer.backlog,
    gatewaySessions: deps.gatewaySessions,
    onError: (err) => logger.warn({ err }, 'a metric could not be read from the store'),
  });
  const scheduler = createExpiryScheduler({
    onExpired: metrics.expired,
    db: store.db,
    bus,
    clock: systemClock,
    logger,
    pseudonymizer: audit.pseudonymizer,
  });
  ctx.cleanups.push(() => scheduler.stop());
  // Grants that fell due while no phigate was running end before the first request is served.
  await scheduler.start();
  const careWatch = createCareRelationWatch({
    db: store.db,
    policies,
    careRelations,
    bus,
    clock: systemClock,
    logger,
    pseudonymizer: audit.pseudonymizer,
    intervalMs: durationMs(gatewayConfig.careRelationRecheck),
  });
  ctx.cleanups.push(() => careWatch.stop());
  return { access, registry, metrics, careWatch };
}
