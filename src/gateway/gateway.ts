/**
 * The gateway's composition: TLS, tokens, authentication, the listener, and the service the API uses to hand out
 * connection details. The protected databases (upstreams, grant roles, the sweep of leftover roles) are the
 * provisioner's: started before the gateway, so the roles of grants that ended while phigate was down are gone before
 * it accepts anyone.
 */
import type { GrantDirectory } from '../access/grant-directory.js';
import type { SystemRevocation } from '../access/system-revocation.js';
import type { GrantEventBus } from '../access/types.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import { createRefusalRecorder } from '../audit/refusal-recorder.js';
import { durationMs } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { GrantRoles } from '../provisioner/grant-roles.js';
import type { Upstreams } from '../provisioner/upstreams.js';
import { createConnectionService, type ConnectionService } from './connection-service.js';
import { createConnectionTokens } from './connection-token.js';
import { createGatewayAuth } from './gateway-auth.js';
import { createGatewayServer, type GatewayServerOptions } from './gateway-server.js';
import { loadGatewayTls } from './gateway-tls.js';
import { createStatementEvents } from './statement-events.js';

export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly dataDir: string;
  /** What the gateway knows of grants: the access module's port, never the store. */
  readonly grants: GrantDirectory;
  readonly policy: () => CompiledPolicy;
  readonly writer: Pick<AuditWriter, 'append' | 'backlog' | 'healthy'>;
  readonly pseudonymizer: Pseudonymizer;
  /** The shared secret (the audit HMAC key) tokens and role passwords are derived from. */
  readonly secret: Buffer;
  readonly verifier: TokenVerifier;
  readonly bus: Pick<GrantEventBus, 'subscribe' | 'onResync'>;
  /** Ends grants whose holder is no longer eligible for their role. */
  readonly revocation: Pick<SystemRevocation, 'revoke'>;
  /** The protected databases (shared with care-relation look-ups; their owner closes them). */
  readonly upstreams: Upstreams;
  /** The lifecycle of grants' roles in them (their owner sweeps leftovers). */
  readonly roles: GrantRoles;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Told each statement's outcome (metrics). */
  readonly onStatement?: GatewayServerOptions['onStatement'];
}

export interface Gateway {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** The generated or configured certificate clients may verify against. */
  readonly certFile: string | undefined;
  readonly connections: ConnectionService;
  readonly sessions: number;
  close(): Promise<void>;
}

export async function startGateway(deps: GatewayOptions): Promise<Gateway> {
  const { config, logger } = deps;
  const tls =
    config.allowPlaintext && config.tls.certFile === undefined
      ? undefined
      : loadGatewayTls({ ...config.tls, dataDir: deps.dataDir });
  if (tls?.generated)
    logger.warn({ certFile: tls.certFile }, 'generated a self-signed gateway certificate (development)');
  if (config.allowPlaintext) logger.warn('the gateway accepts clients without TLS: development only');
  const tokens = createConnectionTokens(deps.secret);
  const { upstreams, roles } = deps;

  // Bounded records of refused sign-ins and probing; closed after the listener, so no count is left unwritten.
  const refusals = createRefusalRecorder({ writer: deps.writer, clock: deps.clock, logger });
  const server = createGatewayServer({
    host: config.host,
    port: config.port,
    tls: tls?.context,
    allowPlaintext: config.allowPlaintext,
    handshakeTimeoutMs: durationMs(config.handshakeTimeout),
    maxConnections: config.maxConnections,
    maxPreAuthPerAddress: config.maxPreAuthPerAddress,
    policy: deps.policy,
    auth: createGatewayAuth({
      grants: deps.grants,
      tokens,
      verifier: deps.verifier,
      policy: deps.policy,
      clock: deps.clock,
      revocation: deps.revocation,
    }),
    upstreams,
    roles,
    writer: deps.writer,
    events: createStatementEvents(deps.pseudonymizer),
    auditWait: config.auditWait,
    refusals,
    bus: deps.bus,
    grants: deps.grants,
    onStatement: deps.onStatement,
    clock: deps.clock,
    logger,
  });
  let address;
  try {
    address = await server.listen();
  } catch (err) {
    await server.close();
    await refusals.close();
    throw err;
  }
  const host =
    config.publicHost ??
    (address.address === '::' || address.address === '0.0.0.0' ? 'localhost' : address.address);
  logger.info({ host: address.address, port: address.port, tls: tls !== undefined }, 'gateway is listening');
  return {
    host,
    port: address.port,
    tls: tls !== undefined,
    certFile: tls?.certFile,
    connections: createConnectionService({
      grants: deps.grants,
      policy: deps.policy,
      tokens,
      upstreams,
      roles,
      writer: deps.writer,
      clock: deps.clock,
      secret: deps.secret,
      gateway: { host, port: address.port, tls: tls !== undefined },
      tokenTtlMs: durationMs(config.connectionTokenTtl),
      revocation: deps.revocation,
    }),
    get sessions() {
      return server.sessions;
    },
    async close() {
      await server.close();
      // The count of refusals left out of the log in the last minute is written before the writer closes.
      await refusals.close();
    },
  };
}
