/**
 * The protected databases of a starting phigate, and the gateway in front of them. The provisioning pools and grant
 * roles are opened early (care-relation and patient look-ups serve the access service), but swept and listened on
 * late: only once the token verifier knows every issuer.
 */
import type { GrantEventBusHandle } from '../access/event-bus.js';
import { createGrantDirectory, type GrantDirectory } from '../access/grant-directory.js';
import { createSystemRevocation } from '../access/system-revocation.js';
import type { AuditService } from '../audit/audit-service.js';
import type { GatewayConfig, IssuerConfig } from '../config/schema.js';
import { startGateway, type Gateway } from '../gateway/gateway.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import { systemClock } from '../lib/clock.js';
import { createProtectedDatabase, type ProtectedDatabase } from '../provisioner/protected-database.js';
import type { Store } from '../store/open-store.js';
import type { PhigateMetrics } from './phigate-metrics.js';
import type { StartContext } from './start-context.js';

/**
 * Gateway settings that replace the configured ones, or a function that prepares them once the store is open (the
 * demo sets up its protected database in the embedded server).
 */
export type GatewayOverride =
  Partial<GatewayConfig> | ((store: Store, dataDir: string) => Promise<Partial<GatewayConfig>>);

export interface OpenedProtectedDatabase {
  readonly gatewayConfig: GatewayConfig;
  /** One answer to "is this grant active?" for the role sweep and the gateway alike. */
  readonly grants: GrantDirectory;
  readonly protectedDb: ProtectedDatabase;
}

/**
 * The protected databases, through their provisioning accounts: the gateway's roles, and the look-ups of care
 * relations and of the patients requests name. Closed after the gateway (cleanups run in reverse).
 */
export async function openProtectedDatabase(
  ctx: StartContext,
  bus: GrantEventBusHandle,
  override: GatewayOverride | undefined,
  /** Read at request time, once the issuers (the development one included) are known. */
  issuers: readonly IssuerConfig[],
): Promise<OpenedProtectedDatabase> {
  const { config, store, policies } = ctx;
  const gatewayOverride = typeof override === 'function' ? await override(store, config.dataDir) : override;
  const gatewayConfig = { ...config.gateway, ...gatewayOverride };
  const grants = createGrantDirectory({ db: store.db, clock: systemClock });
  const protectedDb = createProtectedDatabase({
    resources: gatewayConfig.resources,
    policy: () => policies.current(),
    secret: ctx.keys.hmacKey,
    isGrantActive: (grantId) => grants.isActive(grantId),
    onResync: (handler) => bus.onResync(handler),
    trustedIssuers: () => issuers.map((i) => i.issuer),
    clock: systemClock,
    logger: ctx.logger,
  });
  ctx.cleanups.push(() => protectedDb.close());
  return { gatewayConfig, grants, protectedDb };
}

/**
 * Roles of grants that ended while phigate was down are dropped before the gateway accepts anyone; the sweep runs
 * whether or not this replica's gateway listens (another replica's may). Then the gateway, when enabled.
 */
export async function startProtectedAndGateway(
  ctx: StartContext,
  opened: OpenedProtectedDatabase,
  deps: {
    readonly audit: AuditService;
    readonly bus: GrantEventBusHandle;
    readonly verifier: TokenVerifier;
    readonly metrics: PhigateMetrics;
  },
): Promise<Gateway | undefined> {
  const { config, store, policies } = ctx;
  const { gatewayConfig, protectedDb } = opened;
  const { audit, bus } = deps;
  await protectedDb.start();
  if (!gatewayConfig.enabled) return undefined;
  const gateway = await startGateway({
    config: gatewayConfig,
    dataDir: config.dataDir,
    grants: opened.grants,
    policy: () => policies.current(),
    writer: audit.writer,
    pseudonymizer: audit.pseudonymizer,
    secret: ctx.keys.hmacKey,
    verifier: deps.verifier,
    bus,
    revocation: createSystemRevocation({
      db: store.db,
      bus,
      clock: systemClock,
      pseudonymizer: audit.pseudonymizer,
    }),
    upstreams: protectedDb.upstreams,
    roles: protectedDb.roles,
    onStatement: deps.metrics.statement,
    clock: systemClock,
    logger: ctx.logger,
  });
  ctx.cleanups.push(() => gateway.close());
  return gateway;
}
