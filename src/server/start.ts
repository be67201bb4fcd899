/**
 * The composition root of a phigate server process: configuration → store → policy → identity → access services →
 * expiry → HTTP. The order matters: grants that fell due while phigate was down expire before anything is served.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createAccessService } from '../access/access-service.js';
import { buildChannels } from '../alerts/channels-from-config.js';
import type { DeliveryWorker } from '../alerts/delivery-worker.js';
import { phigateVersion } from '../cli/version.js';
import { createGrantEventBus } from '../access/event-bus.js';
import { createCareRelationWatch, type CareRelationWatch } from '../access/care-relation-watch.js';
import { createExpiryScheduler } from '../access/expiry-scheduler.js';
import { createGrantDirectory } from '../access/grant-directory.js';
import { createPolicyRegistry } from '../access/policy-registry.js';
import { createSystemRevocation } from '../access/system-revocation.js';
import { durationMs, loadConfig } from '../config/load.js';
import type { IssuerConfig } from '../config/schema.js';
import { loadAuditKeys } from '../audit/audit-keys.js';
import { createAuditService, type AuditService } from '../audit/audit-service.js';
import { createRefusalRecorder } from '../audit/refusal-recorder.js';
import { fileWitness, httpWitness } from '../audit/witness.js';
import { createMetricsRegistry } from './metrics.js';
import { createPhigateMetrics } from './phigate-metrics.js';
import { createAlerting } from './alerting.js';
import { createDevIssuer } from '../identity/dev-issuer.js';
import { createTokenVerifier } from '../identity/token-verifier.js';
import { systemClock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import { fileProblem } from '../lib/file-problem.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { formatProblem } from '../lib/yaml-source.js';
import type { GatewayConfig } from '../config/schema.js';
import { startGateway, type Gateway } from '../gateway/gateway.js';
import { createProtectedDatabase } from '../provisioner/protected-database.js';
import { openStore, type Store } from '../store/open-store.js';
import { buildApp } from './app.js';

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
  readonly gateway?:
    Partial<GatewayConfig> | ((store: Store, dataDir: string) => Promise<Partial<GatewayConfig>>) | undefined;
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
  // Keys first: a key that cannot be read stops phigate before it touches the store.
  const keys = loadAuditKeys({
    hmacKeyFile: config.audit.hmacKeyFile,
    signingKeyFile: config.audit.signingKeyFile,
    hmacKey: config.audit.hmacKey,
    signingKey: config.audit.signingKey,
    dataDir: config.dataDir,
  });
  for (const file of keys.generated)
    logger.warn({ file }, 'generated an audit key; keep a copy and its public key');
  // Alert channels' secrets too: a missing one stops phigate before it touches the store.
  const alertChannels = buildChannels(config.alerts.channels, {
    env: options.env ?? process.env,
    clock: systemClock,
    version: phigateVersion(),
    attemptTimeoutMs: durationMs(config.alerts.attemptTimeout),
  });
  const store = await openStore({
    databaseUrl: config.database.url,
    dataDir: config.dataDir,
    onNotice: (message) => logger.warn(message),
  });
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
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
    const loaded = await policies.load(policyText.source, policyText.sourceName);
    if (!loaded.ok) {
      throw new PhigateError(
        'invalid',
        'policy.invalid',
        `the policy is invalid:\n  ${loaded.problems.map((p) => formatProblem(policyText.sourceName, p)).join('\n  ')}`,
      );
    }

    const audit = createAuditService({
      db: store.db,
      pool: store.pool,
      clock: systemClock,
      logger,
      origin: config.audit.origin,
      hmacKey: keys.hmacKey,
      signingKey: keys.signingKey,
      publicKey: keys.publicKey,
      publicKeyPem: keys.publicKeyPem,
      checkpointIntervalMs: durationMs(config.audit.checkpointInterval),
      checkpointDelayMs: durationMs(config.audit.checkpointDelay),
      witnesses: [
        ...config.audit.witness.files.map(fileWitness),
        ...config.audit.witness.urls.map((u) => httpWitness(u)),
      ],
      isAuditor: (p) => policies.current().isAuditor(p),
    });
    await audit.start();
    cleanups.push(() => audit.stop());

    const bus = createGrantEventBus({ pool: store.pool, replicaId, logger });
    cleanups.push(() => bus.close());
    await bus.ready();
    const gatewayOverride =
      typeof options.gateway === 'function' ? await options.gateway(store, config.dataDir) : options.gateway;
    const gatewayConfig = { ...config.gateway, ...gatewayOverride };
    // The protected databases, through their provisioning accounts: the gateway's roles, and the look-ups of care
    // relations and of the patients requests name. Closed after the gateway (cleanups run in reverse).
    // One answer to "is this grant active?" for the role sweep and the gateway alike.
    const grants = createGrantDirectory({ db: store.db, clock: systemClock });
    const protectedDb = createProtectedDatabase({
      resources: gatewayConfig.resources,
      policy: () => policies.current(),
      secret: keys.hmacKey,
      isGrantActive: (grantId) => grants.isActive(grantId),
      onResync: (handler) => bus.onResync(handler),
      // Read at request time, once the issuers (the development one included) are known.
      trustedIssuers: () => issuers.map((i) => i.issuer),
      clock: systemClock,
      logger,
    });
    cleanups.push(() => protectedDb.close());
    const { careRelations } = protectedDb;
    const access = createAccessService({
      db: store.db,
      policies,
      clock: systemClock,
      bus,
      logger,
      replicaId,
      pseudonymizer: audit.pseudonymizer,
      careRelations,
      patients: protectedDb.patients,
    });
    const registry = createMetricsRegistry();
    let gateway: Gateway | undefined;
    const metrics = createPhigateMetrics({
      registry,
      db: store.db,
      clock: systemClock,
      auditBacklog: () => audit.writer.backlog,
      gatewaySessions: () => gateway?.sessions,
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
    cleanups.push(() => scheduler.stop());
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
    cleanups.push(() => careWatch.stop());

    const issuers: IssuerConfig[] = [...config.identity.issuers];
    let devIssuer: Awaited<ReturnType<typeof createDevIssuer>> | undefined;
    const host = config.server.host;
    const reserved = await reservePort(host, options.port ?? config.server.port);
    cleanups.push(() => reserved.release());
    const port = reserved.port;
    const baseUrl = config.server.publicUrl ?? `http://${host}:${port}`;
    if (dev) {
      devIssuer = await createDevIssuer({ baseUrl, dataDir: config.dataDir, audience: 'phigate', logger });
      issuers.push(devIssuer.issuerConfig);
    }
    const verifier = createTokenVerifier({ issuers, personClaims: config.identity.personClaims, logger });
    // Roles of grants that ended while phigate was down are dropped before the gateway accepts anyone; the sweep runs
    // whether or not this replica's gateway listens (another replica's may).
    await protectedDb.start();
    if (gatewayConfig.enabled) {
      gateway = await startGateway({
        config: gatewayConfig,
        dataDir: config.dataDir,
        grants,
        policy: () => policies.current(),
        writer: audit.writer,
        pseudonymizer: audit.pseudonymizer,
        secret: keys.hmacKey,
        verifier,
        bus,
        revocation: createSystemRevocation({
          db: store.db,
          bus,
          clock: systemClock,
          pseudonymizer: audit.pseudonymizer,
        }),
        upstreams: protectedDb.upstreams,
        roles: protectedDb.roles,
        onStatement: metrics.statement,
        clock: systemClock,
        logger,
      });
      const running = gateway;
      cleanups.push(() => running.close());
    }
    const alerting = createAlerting({
      config: config.alerts,
      channels: alertChannels,
      store,
      audit: audit.writer,
      isAuditor: (p) => policies.current().isAuditor(p),
      clock: systemClock,
      logger,
      registry,
      publicUrl: baseUrl,
    });
    const alertDelivery = alerting.delivery;
    // Before the audit writer and the store (cleanups run in reverse).
    if (alertDelivery) cleanups.push(() => alertDelivery.stop());
    let ready = false;
    // Refusals anyone can make as fast as they like: recorded, bounded per client address and minute.
    const authRefusals = createRefusalRecorder({ writer: audit.writer, clock: systemClock, logger });
    const apiRefusals = createRefusalRecorder({
      writer: audit.writer,
      clock: systemClock,
      logger,
      action: 'api.reject',
    });
    // After the app has closed (cleanups run in reverse) and before the audit writer stops.
    cleanups.push(async () => {
      await authRefusals.close();
      await apiRefusals.close();
    });
    const app = await buildApp({
      access,
      audit,
      connections: gateway?.connections,
      alerts: alerting.service,
      verifier,
      logger,
      bodyLimitBytes: config.server.bodyLimitBytes,
      rateLimit: { max: config.server.rateLimit.max, windowMs: durationMs(config.server.rateLimit.window) },
      // Ready once overdue grants are expired and while the store answers.
      ready: async () =>
        ready &&
        (await sql`select 1`.execute(store.db).then(
          () => true,
          () => false,
        )),
      authInfo: issuers[0]
        ? { issuer: issuers[0].issuer, audience: issuers[0].audience, cliClientId: issuers[0].cliClientId }
        : undefined,
      devIssuer: devIssuer ? { plugin: devIssuer.plugin, prefix: devIssuer.prefix } : undefined,
      publicUrl: baseUrl,
      metrics: registry,
      authRefusals,
      apiRefusals,
    });
    cleanups.push(() => app.close());
    await reserved.release();
    await app.listen({ host, port });
    // Only now are the trusted issuers final (the development one included), which subject look-ups depend on.
    careWatch.start();
    await alertDelivery?.start();
    ready = true;

    const reloadPolicy = (): { ok: boolean; problems: readonly string[] } => {
      if (!policyFile) return { ok: false, problems: ['no policy file configured (policy.file)'] };
      const result = policies.reloadFromFileSync(policyFile);
      if (result.ok) logger.info({ policyHash: result.hash }, 'policy reloaded');
      else
        logger.error({ problems: result.problems }, 'new policy is invalid; the previous one stays in force');
      return { ok: result.ok, problems: result.problems.map((p) => formatProblem(policyFile, p)) };
    };
    if (policyFile && config.policy.watch) cleanups.push(watchPolicy(policyFile, reloadPolicy));

    logger.info({ url: baseUrl, dev, policyHash: policies.current().hash }, 'phigate is serving');
    let stopping: Promise<void> | undefined;
    return {
      url: baseUrl,
      dataDir: path.resolve(config.dataDir),
      store,
      logger,
      audit,
      gateway,
      careRelations: careWatch,
      alertDelivery,
      mintDevToken: devIssuer ? (username: string) => devIssuer.mintToken(username) : undefined,
      reloadPolicy,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function readPolicyFile(file: string | undefined): { source: string; sourceName: string } {
  if (!file) {
    throw new PhigateError(
      'invalid',
      'policy.missing',
      'no policy configured: set policy.file in phigate.yaml or PHIGATE_POLICY_FILE (or run `phigate demo`)',
    );
  }
  try {
    return { source: readFileSync(file, 'utf8'), sourceName: file };
  } catch (err) {
    throw new PhigateError(
      'invalid',
      'policy.unreadable',
      `cannot read the policy file ${file} (${fileProblem(err)}); it is named by policy.file in the ` +
        'configuration file (relative to that file) or by PHIGATE_POLICY_FILE',
      { file },
      { cause: err },
    );
  }
}

/** Editors replace files rather than write them in place, so watch the directory and debounce. */
function watchPolicy(file: string, reload: () => unknown): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== path.basename(file)) return;
      clearTimeout(timer);
      timer = setTimeout(reload, 200);
    });
  } catch {
    return () => undefined;
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}

/**
 * Port 0 means "any": the development issuer must know its own URL before the app listens, so the port is chosen
 * first and held by a placeholder listener until the moment the app takes it over. Releasing the chosen port early
 * (as a probe that closes at once would) lets any other process started meanwhile be given the same ephemeral port.
 */
async function reservePort(
  host: string,
  port: number,
): Promise<{ readonly port: number; release(): Promise<void> }> {
  if (port !== 0) return { port, release: async () => undefined };
  const placeholder = createServer();
  const chosen = await new Promise<number>((resolve, reject) => {
    placeholder.once('error', reject);
    placeholder.listen(0, host, () => {
      const address = placeholder.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('no port'));
    });
  });
  let released: Promise<void> | undefined;
  return {
    port: chosen,
    release: () => (released ??= new Promise<void>((resolve) => placeholder.close(() => resolve()))),
  };
}
