/**
 * The HTTP side of a starting phigate: who may sign tokens (the configured issuers, and the development one, which
 * must know the port it will be served on first), then the API app with alerting and the refusal recorders. The app
 * is built here; `start.ts` makes it listen.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Registry } from 'prom-client';
import { buildChannels } from '../alerts/channels-from-config.js';
import type { AlertChannel } from '../alerts/channel.js';
import type { AccessService } from '../access/types.js';
import type { AuditService } from '../audit/audit-service.js';
import { createRefusalRecorder } from '../audit/refusal-recorder.js';
import { phigateVersion } from '../cli/version.js';
import { durationMs } from '../config/load.js';
import type { Config, IssuerConfig } from '../config/schema.js';
import type { Gateway } from '../gateway/gateway.js';
import { createDevIssuer, type DevIssuer } from '../identity/dev-issuer.js';
import { createTokenVerifier, type TokenVerifier } from '../identity/token-verifier.js';
import { systemClock } from '../lib/clock.js';
import { createAlerting, type Alerting } from './alerting.js';
import { buildApp } from './app.js';
import type { StartContext } from './start-context.js';
import { reservePort, type ReservedPort } from './start-port.js';

/** Alert channels' secrets too: a missing one stops phigate before it touches the store. */
export function loadAlertChannels(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): AlertChannel[] {
  return buildChannels(config.alerts.channels, {
    env,
    clock: systemClock,
    version: phigateVersion(),
    attemptTimeoutMs: durationMs(config.alerts.attemptTimeout),
  });
}

export interface Identity {
  readonly host: string;
  readonly reserved: ReservedPort;
  readonly baseUrl: string;
  readonly devIssuer: DevIssuer | undefined;
  readonly verifier: TokenVerifier;
}

/** Reserves the port, then adds the development issuer (dev mode) to `issuers` before the verifier is made. */
export async function prepareIdentity(
  ctx: StartContext,
  issuers: IssuerConfig[],
  options: { readonly port: number | undefined; readonly dev: boolean },
): Promise<Identity> {
  const { config, logger } = ctx;
  let devIssuer: DevIssuer | undefined;
  const host = config.server.host;
  const reserved = await reservePort(host, options.port ?? config.server.port);
  ctx.cleanups.push(() => reserved.release());
  const baseUrl = config.server.publicUrl ?? `http://${host}:${reserved.port}`;
  if (options.dev) {
    devIssuer = await createDevIssuer({ baseUrl, dataDir: config.dataDir, audience: 'phigate', logger });
    issuers.push(devIssuer.issuerConfig);
  }
  const verifier = createTokenVerifier({ issuers, personClaims: config.identity.personClaims, logger });
  return { host, reserved, baseUrl, devIssuer, verifier };
}

export interface HttpApp {
  readonly app: FastifyInstance;
  readonly alerting: Alerting;
}

export async function buildHttpApp(
  ctx: StartContext,
  deps: {
    readonly access: AccessService;
    readonly audit: AuditService;
    readonly gateway: Gateway | undefined;
    readonly alertChannels: readonly AlertChannel[];
    readonly registry: Registry;
    readonly identity: Identity;
    readonly issuers: readonly IssuerConfig[];
    /** Ready once overdue grants are expired (and while the store answers). */
    readonly ready: () => boolean;
  },
): Promise<HttpApp> {
  const { config, store, policies, logger, cleanups } = ctx;
  const { audit, identity, issuers } = deps;
  const alerting = createAlerting({
    config: config.alerts,
    channels: deps.alertChannels,
    store,
    audit: audit.writer,
    isAuditor: (p) => policies.current().isAuditor(p),
    clock: systemClock,
    logger,
    registry: deps.registry,
    publicUrl: identity.baseUrl,
  });
  const alertDelivery = alerting.delivery;
  // Before the audit writer and the store (cleanups run in reverse).
  if (alertDelivery) cleanups.push(() => alertDelivery.stop());
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
    access: deps.access,
    audit,
    connections: deps.gateway?.connections,
    alerts: alerting.service,
    verifier: identity.verifier,
    logger,
    bodyLimitBytes: config.server.bodyLimitBytes,
    rateLimit: { max: config.server.rateLimit.max, windowMs: durationMs(config.server.rateLimit.window) },
    ready: async () =>
      deps.ready() &&
      (await sql`select 1`.execute(store.db).then(
        () => true,
        () => false,
      )),
    authInfo: issuers[0]
      ? { issuer: issuers[0].issuer, audience: issuers[0].audience, cliClientId: issuers[0].cliClientId }
      : undefined,
    devIssuer: identity.devIssuer
      ? { plugin: identity.devIssuer.plugin, prefix: identity.devIssuer.prefix }
      : undefined,
    publicUrl: identity.baseUrl,
    metrics: deps.registry,
    authRefusals,
    apiRefusals,
  });
  cleanups.push(() => app.close());
  return { app, alerting };
}
