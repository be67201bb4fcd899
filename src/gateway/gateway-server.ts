/**
 * phigate's PostgreSQL gateway: a listener that lets a person into a protected database only while they hold an
 * active grant, as that grant's own database role, with every statement audited before it runs — and that cuts the
 * session when the grant ends, wherever it ended (the grant event bus brings other replicas' revocations).
 *
 * This file is the listener and its limits; one connection's path is startup (TLS, token, grant check:
 * connect-phase.ts) → its session (session-opener.ts); live sessions and what grant events do to them are in
 * grant-sessions.ts; refused connections are recorded by gateway-refusals.ts.
 *
 * Limits, each a FATAL 53300 the client can act on and an audit record: connections to the gateway as a whole
 * (`maxConnections`), connections from one address still signing in (`maxPreAuthPerAddress`: a client cannot hold
 * every slot with handshakes it never finishes), and sessions of one grant (its role's `maxConnections`).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Grant } from '../access/grant.js';
import type { GrantDirectory } from '../access/grant-directory.js';
import type { GrantEventBus } from '../access/types.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { RefusalRecorder } from '../audit/refusal-recorder.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import { CancelKeys } from './cancel-keys.js';
import type { GatewayAuth, GatewayPrincipal } from './gateway-auth.js';
import { createGatewayRefusals } from './gateway-refusals.js';
import type { GrantRoles } from '../provisioner/grant-roles.js';
import { createGrantSessions, type Session } from './grant-sessions.js';
import { errorResponse } from './postgres/backend-messages.js';
import { acceptConnection } from './postgres/connect-phase.js';
import { sendCancelRequest } from './postgres/upstream-connect.js';
import { GATEWAY_REFUSAL, type GatewayRefusalCode } from './refusal-reasons.js';
import type { AuditWait } from './session-audit.js';
import { createSessionOpener, TOO_MANY_CONNECTIONS, type StatementOutcome } from './session-opener.js';
import { SlotCounter } from './slot-counter.js';
import { createGuardCache } from './statement-guard-cache.js';
import type { StatementEvents } from './statement-events.js';
import type { Upstreams } from '../provisioner/upstreams.js';

export type { StatementOutcome } from './session-opener.js';

export interface GatewayServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: SecureContext | undefined;
  readonly allowPlaintext: boolean;
  readonly handshakeTimeoutMs: number;
  readonly maxConnections: number;
  /** Connections from one client address that may be signing in (startup not yet past the grant check) at once. */
  readonly maxPreAuthPerAddress: number;
  readonly policy: () => CompiledPolicy;
  readonly auth: GatewayAuth;
  readonly upstreams: Upstreams;
  readonly roles: GrantRoles;
  readonly writer: Pick<AuditWriter, 'append' | 'backlog' | 'healthy'>;
  readonly events: StatementEvents;
  /** Whether a statement waits for its record to be durable (default) or only sequenced (session-audit.ts). */
  readonly auditWait: AuditWait;
  /** Rate-limited record of failed logins and probing (password guessing must not flood the log). */
  readonly refusals: Pick<RefusalRecorder, 'record'>;
  readonly bus: Pick<GrantEventBus, 'subscribe' | 'onResync'>;
  /** The grants' stored state (a grant's patients are not in its activation event; how a grant ended). */
  readonly grants: Pick<GrantDirectory, 'grantById' | 'endOf'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Told each statement's outcome: refused by the guard, or as the database answered (metrics). */
  readonly onStatement?: ((outcome: StatementOutcome) => void) | undefined;
}

export interface GatewayServer {
  listen(): Promise<AddressInfo>;
  /** Live sessions (past startup, relaying). */
  readonly sessions: number;
  /** Ends a grant's sessions now and removes its database role (called for grant events). */
  endGrant(grantId: string, resource: string, endedAt: Date, reason: string): Promise<void>;
  close(): Promise<void>;
}

export function createGatewayServer(deps: GatewayServerOptions): GatewayServer {
  const { logger } = deps;
  const cancelKeys = new CancelKeys<{ session?: Session }>();
  const sockets = new Set<Socket>();
  /** Connections still signing in, per client address. */
  const preAuth = new SlotCounter();
  const work = new Set<Promise<unknown>>();
  let closing = false;

  const background = (p: Promise<unknown>, what: string): void => {
    const tracked = p.catch((err: unknown) => logger.warn({ err }, what));
    work.add(tracked);
    void tracked.finally(() => work.delete(tracked));
  };

  const sessions = createGrantSessions({ ...deps, background });
  const recordRefusal = createGatewayRefusals(deps);
  const open = createSessionOpener({
    ...deps,
    sessions,
    cancelKeys,
    guard: createGuardCache(),
    recordRefusal,
    background,
  });

  /** False when the key names no session (a guess): the connect phase records that. */
  const cancel = (processId: number, secretKey: number): boolean => {
    const target = cancelKeys.find(processId, secretKey);
    if (target === undefined) return false;
    const session = target.session;
    if (session?.backendKey !== undefined)
      background(
        sendCancelRequest(session.upstream, session.backendKey),
        'could not forward a cancel request',
      );
    return true;
  };

  /**
   * Refused as soon as accepted, before a byte is read: the client has not been answered `S`, so a plaintext
   * ErrorResponse is what it can read.
   */
  const refuseAtAccept = (
    socket: Socket,
    address: string,
    reasonCode: GatewayRefusalCode,
    message: string,
  ): void => {
    socket.end(errorResponse({ severity: 'FATAL', code: TOO_MANY_CONNECTIONS, message }));
    // Read and discard what the client already sent, or its FIN is never seen and the socket never closes; a
    // client that keeps it open anyway is dropped after the handshake timeout.
    socket.resume();
    socket.setTimeout(deps.handshakeTimeoutMs, () => socket.destroy());
    if (!closing)
      background(
        recordRefusal({ reasonCode, user: undefined, database: undefined, clientAddress: address }),
        'could not audit a refused gateway connection',
      );
  };

  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const full = closing || sockets.size >= deps.maxConnections;
    // Tracked even when refused, so that close() can destroy it: a client that never closes its side would
    // otherwise hold the listener open.
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const address = socket.remoteAddress ?? 'unknown';
    if (full) {
      refuseAtAccept(
        socket,
        address,
        GATEWAY_REFUSAL.gatewayFull,
        'the phigate gateway has too many connections',
      );
      return;
    }
    // Until it is past the grant check, a connection holds one of its address's sign-in slots: handshakes that are
    // never finished cannot take every connection the gateway has.
    if (preAuth.count(address) >= deps.maxPreAuthPerAddress) {
      refuseAtAccept(
        socket,
        address,
        GATEWAY_REFUSAL.preAuthLimit,
        `too many connections from your address are waiting to sign in (at most ${deps.maxPreAuthPerAddress}): ` +
          'finish or close them, then try again',
      );
      return;
    }
    const signedIn = preAuth.take(address);
    socket.once('close', signedIn);
    background(
      acceptConnection<GatewayPrincipal, Grant>(socket, {
        tls: deps.tls,
        allowPlaintext: deps.allowPlaintext,
        handshakeTimeoutMs: deps.handshakeTimeoutMs,
        authenticate: (user, password) => deps.auth.authenticate(user, password),
        authorize: (principal, database) => deps.auth.authorize(principal, database),
        onCancel: cancel,
        recordRefusal,
      })
        .finally(signedIn)
        .then((accepted) => (accepted ? open(accepted, address) : undefined)),
      'gateway connection failed',
    );
  });

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.port, deps.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    get sessions() {
      return sessions.total;
    },
    endGrant: sessions.endGrant,
    async close() {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        sessions.close('gateway-stopped', 'the phigate gateway is shutting down');
        for (const socket of sockets) socket.destroy();
      });
      await Promise.allSettled([...work]);
      await deps.roles.settle();
    },
  };
}
