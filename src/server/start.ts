/**
 * The composition root of a phigate server process: configuration → store → policy → identity → access services →
 * expiry → HTTP. The order matters: grants that fell due while phigate was down expire before anything is served.
 * Each part is brought up by a `start-*.ts` helper; the order they are called in, here, is the start order
 * (docs/architecture.md), and stopping runs what they registered in reverse.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { AlertChannel } from '../alerts/channel.js';
import type { DeliveryWorker } from '../alerts/delivery-worker.js';
import { createGrantEventBus } from '../access/event-bus.js';
import type { CareRelationWatch } from '../access/care-relation-watch.js';
import { createPolicyRegistry } from '../access/policy-registry.js';
import { loadConfig } from '../config/load.js';
import type { IssuerConfig } from '../config/schema.js';
import type { AuditService } from '../audit/audit-service.js';
import { createLogger, type Logger } from '../lib/logger.js';
import type { Gateway } from '../gateway/gateway.js';
import { openStore, type Store } from '../store/open-store.js';
import { startAccess } from './start-access.js';
import { loadKeys, startAudit } from './start-audit.js';
import type { Cleanups, StartContext } from './start-context.js';
import { buildHttpApp, loadAlertChannels, prepareIdentity, type Identity } from './start-http.js';
import { loadPolicyOrRefuse, policyReloader, readPolicyFile, watchPolicy } from './start-policy.js';
import { openProtectedDatabase, startProtectedAndGateway, type GatewayOverride } from './start-protected.js';

export interface StartOptions {
  readonly configPath?: string | undefined;
  readonly port?: number | undefined;
  /** Turn on the development issuer (demo users). Never in production. */
  readonly dev?: boolean | undefined;
  readonly logLevel?: string | undefined;
  /** A policy given in memory (the demo's), instead of `policy.file`. */
  readonly policy?: { readonly source: string; readonly sourceName: string } | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Gateway settings that replace the configured ones, or a function that prepares them once the store is open (the
   * demo sets up its protected database in the embedded server).
   */
  readonly gateway?: GatewayOverride | undefined;
}

export interface RunningPhigate {
  /** Base URL of the HTTP API. */
  readonly url: string;
  /** Where this phigate keeps its state (config `dataDir`). */
  readonly dataDir: string;
  readonly store: Store;
  readonly logger: Logger;
  readonly audit: AuditService;
  /** The PostgreSQL gateway, when enabled. */
  readonly gateway: Gateway | undefined;
  /** Mints a development token for a demo user (dev mode only). */
  readonly mintDevToken: ((username: string) => Promise<string>) | undefined;
  /** Looks up active care-relation grants again now (they are, every `gateway.careRelationRecheck`). */
  readonly careRelations: Pick<CareRelationWatch, 'checkNow'>;
  /** The alert delivery worker; undefined when no alert channel is configured. */
  readonly alertDelivery: DeliveryWorker | undefined;
  /** Re-reads the policy file; an invalid policy keeps the old one in force. */
  reloadPolicy(): { ok: boolean; problems: readonly string[] };
  stop(): Promise<void>;
}

export async function startPhigate(options: StartOptions = {}): Promise<RunningPhigate> {
  const { config, policyFile } = loadConfig({
    file: options.configPath,
    ...(options.env ? { env: options.env } : {}),
  });
  const logger = createLogger(options.logLevel ?? config.log.level, undefined, config.log.format);
  const dev = options.dev ?? config.identity.devIssuer;
  const replicaId = randomUUID();

  const policyText = options.policy ?? readPolicyFile(policyFile);
  const keys = loadKeys(config, logger);
  const alertChannels = loadAlertChannels(config, options.env ?? process.env);
  const store = await openStore({
    databaseUrl: config.database.url,
    dataDir: config.dataDir,
    onNotice: (message) => logger.warn(message),
  });
  const cleanups: Cleanups = [() => store.close()];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        logger.error({ err }, 'error while stopping');
      }
    }
  };

  try {
    const policies = createPolicyRegistry({ db: store.db, logger });
    await loadPolicyOrRefuse(policies, policyText);
    const ctx: StartContext = { config, logger, store, keys, policies, replicaId, cleanups };
    const served = await serve(ctx, { ...options, dev }, alertChannels);

    const reloadPolicy = policyReloader(policies, policyFile, logger);
    if (policyFile && config.policy.watch) cleanups.push(watchPolicy(policyFile, reloadPolicy));

    const { baseUrl, devIssuer } = served.identity;
    logger.info({ url: baseUrl, dev, policyHash: policies.current().hash }, 'phigate is serving');
    let stopping: Promise<void> | undefined;
    return {
      url: baseUrl,
      dataDir: path.resolve(config.dataDir),
      store,
      logger,
      audit: served.audit,
      gateway: served.gateway,
      careRelations: served.careWatch,
      alertDelivery: served.alertDelivery,
      mintDevToken: devIssuer ? (username: string) => devIssuer.mintToken(username) : undefined,
      reloadPolicy,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface Served {
  readonly audit: AuditService;
  readonly gateway: Gateway | undefined;
  readonly careWatch: CareRelationWatch;
  readonly alertDelivery: DeliveryWorker | undefined;
  readonly identity: Identity;
}

/** Everything after the policy, in the start order, up to serving HTTP and ready. */
async function serve(
  ctx: StartContext,
  options: StartOptions & { readonly dev: boolean },
  alertChannels: readonly AlertChannel[],
): Promise<Served> {
  const { config, store, replicaId, logger, cleanups } = ctx;
  const audit = await startAudit(ctx);

  const bus = createGrantEventBus({ pool: store.pool, replicaId, logger });
  cleanups.push(() => bus.close());
  await bus.ready();
  // The development issuer joins these once the port is known; the protected database reads them at request time.
  const issuers: IssuerConfig[] = [...config.identity.issuers];
  const opened = await openProtectedDatabase(ctx, bus, options.gateway, issuers);
  // Started later (it needs the verifier); the metrics read its sessions once it is.
  let gateway: Gateway | undefined = undefined;
  const { access, registry, metrics, careWatch } = await startAccess(ctx, {
    audit,
    bus,
    opened,
    gatewaySessions: () => gateway?.sessions,
  });

  const identity = await prepareIdentity(ctx, issuers, { port: options.port, dev: options.dev });
  gateway = await startProtectedAndGateway(ctx, opened, { audit, bus, verifier: identity.verifier, metrics });
  let ready = false;
  const { app, alerting } = await buildHttpApp(ctx, {
    access,
    audit,
    gateway,
    alertChannels,
    registry,
    identity,
    issuers,
    ready: () => ready,
  });
  const alertDelivery = alerting.delivery;
  await identity.reserved.release();
  await app.listen({ host: identity.host, port: identity.reserved.port });
  // Only now are the trusted issuers final (the development one included), which subject look-ups depend on.
  careWatch.start();
  await alertDelivery?.start();
  ready = true;
  return { audit, gateway, careWatch, alertDelivery, identity };
}
