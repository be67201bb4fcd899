/**
 * phigate's PostgreSQL gateway: a listener that lets a person into a protected database only while they hold an
 * active grant, as that grant's own database role, with every statement audited before it runs — and that cuts the
 * session when the grant ends, wherever it ended (the grant event bus brings other replicas' revocations).
 *
 * One connection's path: startup (TLS, token, grant check: connect-phase.ts) → the grant's role made if needed
 * (grant-roles.ts) → login upstream as that role (upstream-connect.ts) → `session.open` recorded → the relay.
 * Its end, whatever the reason, releases the cancel key, records `session.close`, and — when the grant ended —
 * terminates the backend so nothing keeps running on the database.
 *
 * Limits, each a FATAL 53300 the client can act on and an audit record: connections to the gateway as a whole
 * (`maxConnections`), connections from one address still signing in (`maxPreAuthPerAddress`: a client cannot hold
 * every slot with handshakes it never finishes), and sessions of one grant (its role's `maxConnections`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { GrantEvent, GrantEventBus } from '../access/types.js';
import type { StatementResult } from './postgres/statement-tracker.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { RefusalRecorder } from '../audit/refusal-recorder.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { AccessRequestRow } from '../store/access-request-repository.js';
import { CancelKeys } from './cancel-keys.js';
import type { GatewayAuth, GatewayPrincipal } from './gateway-auth.js';
import { GrantRoleEnded, type GrantCredentials, type GrantRoles } from '../provisioner/grant-roles.js';
import { errorResponse } from './postgres/backend-messages.js';
import { acceptConnection, type AcceptedConnection } from './postgres/connect-phase.js';
import { startRelay, type RelayOptions, type RelaySession } from './postgres/relay.js';
import { guardSql, type GuardVerdict } from './postgres/sql-guard.js';
import {
  connectUpstream,
  sendCancelRequest,
  UpstreamRefused,
  type UpstreamConnection,
} from './postgres/upstream-connect.js';
import { GATEWAY_REFUSAL, REPEATABLE_REFUSALS, type GatewayRefusalCode } from './refusal-reasons.js';
import { disclosureOf, rolePhi } from './disclosure.js';
import { createSessionAudit, type AuditWait } from './session-audit.js';
import { SlotCounter } from './slot-counter.js';
import type { SessionContext, StatementEvents } from './statement-events.js';
import type { Upstream, Upstreams } from '../provisioner/upstreams.js';

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
  /** The grant's stored request (its patients are not in the activation event), or undefined if unknown. */
  readonly findGrant: (grantId: string) => Promise<AccessRequestRow | undefined>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Told each statement's outcome: refused by the guard, or as the database answered (metrics). */
  readonly onStatement?: ((outcome: StatementOutcome) => void) | undefined;
}

/** What became of a statement sent through the gateway. */
export type StatementOutcome = 'refused' | StatementResult['outcome'];

export interface GatewayServer {
  listen(): Promise<AddressInfo>;
  /** Live sessions (past startup, relaying). */
  readonly sessions: number;
  /** Ends a grant's sessions now and removes its database role (called for grant events). */
  endGrant(grantId: string, resource: string, endedAt: Date, reason: string): Promise<void>;
  close(): Promise<void>;
}

interface Session {
  readonly id: string;
  readonly grantId: string;
  readonly resource: string;
  readonly relay: RelaySession;
  readonly upstream: Upstream;
  readonly backendKey: UpstreamConnection['backendKey'];
}

/** The relay's look-up of result columns naming patients; none (nothing to read) when the role reads none. */
function patientColumnLookup(
  columns: GrantCredentials['patientColumns'],
): Pick<RelayOptions, 'patientColumnOf'> {
  if (columns.length === 0) return {};
  const byPlace = new Map(columns.map((c) => [`${c.relation}:${c.attnum}`, c]));
  return { patientColumnOf: (relation, attnum) => byPlace.get(`${relation}:${attnum}`) };
}

/** PostgreSQL's too_many_connections: its own limits (roles, databases, the server) and the gateway's. */
const TOO_MANY_CONNECTIONS = '53300';
/**
 * PostgreSQL's message when a role's CONNECTION LIMIT is reached. A server with translated messages words it
 * otherwise: its refusal is then reported as the database being full, still as 53300.
 */
const ROLE_LIMIT_MESSAGE = /too many connections for role/;

/** Grants that ended recently, so a connection that was being set up while the end was announced is cut too. */
const ENDED_MEMORY_MS = 10 * 60_000;

export function createGatewayServer(o: GatewayServerOptions): GatewayServer {
  const { logger } = o;
  const byGrant = new Map<string, Set<Session>>();
  const ended = new Map<string, { at: Date; reason: string }>();
  const cancelKeys = new CancelKeys<{ session?: Session }>();
  const sockets = new Set<Socket>();
  /** Connections still signing in, per client address. */
  const preAuth = new SlotCounter();
  /** Sessions past the grant check and not yet registered, per grant (they count against its limit too). */
  const opening = new SlotCounter();
  const work = new Set<Promise<unknown>>();
  let closing = false;

  const background = (p: Promise<unknown>, what: string): void => {
    const tracked = p.catch((err: unknown) => logger.warn({ err }, what));
    work.add(tracked);
    void tracked.finally(() => work.delete(tracked));
  };

  const fatal = (
    socket: AcceptedConnection<unknown, unknown>['socket'],
    code: string,
    message: string,
  ): void => {
    socket.end(errorResponse({ severity: 'FATAL', code, message }));
  };

  // Applications send the same statement text again and again; the verdict depends on the text alone. Keyed by the
  // exact text, never by fingerprint: a fingerprint that lexed a literal differently from PostgreSQL must not
  // inherit another statement's verdict.
  const verdicts = new Map<string, GuardVerdict>();
  const guard = async (sql: string): Promise<GuardVerdict> => {
    const known = verdicts.get(sql);
    if (known !== undefined) return known;
    const verdict = await guardSql(sql);
    if (sql.length <= 4096) {
      if (verdicts.size >= 2000) verdicts.delete(verdicts.keys().next().value!);
      verdicts.set(sql, verdict);
    }
    return verdict;
  };

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

  const endGrant = async (
    grantId: string,
    resource: string,
    endedAt: Date,
    reason: string,
  ): Promise<void> => {
    ended.set(grantId, { at: endedAt, reason });
    for (const [id, e] of ended)
      if (o.clock.now().getTime() - e.at.getTime() > ENDED_MEMORY_MS) ended.delete(id);
    for (const session of byGrant.get(grantId) ?? []) session.relay.cut(reason, endedAt);
    const definition = o.policy().resources.get(resource);
    if (definition === undefined) return;
    let upstream: Upstream;
    try {
      upstream = o.upstreams.get(definition);
    } catch {
      return; // not a resource this gateway serves
    }
    // Also ends sessions that hold the role's credentials directly (`phigate connect --direct`).
    await o.roles.drop(upstream, grantId);
  };

  const provisionActivated = async (event: GrantEvent): Promise<void> => {
    const policy = o.policy();
    const resource = policy.resources.get(event.resource);
    const role = policy.roles.get(event.role);
    if (resource === undefined || role === undefined) return;
    let upstream: Upstream;
    try {
      upstream = o.upstreams.get(resource);
    } catch {
      return; // not a resource this gateway serves
    }
    // The event does not carry the grant's patients; its stored request does (a scoped role with none would see
    // every patient, so the role is not made from the event alone).
    const grant = role.patientScope === 'none' ? undefined : await o.findGrant(event.grantId);
    if (role.patientScope !== 'none' && grant?.status !== 'active') return;
    await o.roles
      .ensure(
        upstream,
        { id: event.grantId, expiresAt: new Date(event.expiresAt), patientIds: grant?.patient_ids ?? [] },
        role,
        resource.phi,
      )
      .catch((err: unknown) => {
        if (!(err instanceof GrantRoleEnded)) throw err; // ended before it was made: nothing to do
      });
  };

  /** A grant's end as this replica heard it announced, or else as the store has it; undefined while it lasts. */
  const endOf = async (grantId: string): Promise<{ reason: string; endedAt: Date } | undefined> => {
    const heard = ended.get(grantId);
    if (heard !== undefined) return { reason: heard.reason, endedAt: heard.at };
    const grant = await o.findGrant(grantId);
    if (grant === undefined) return undefined;
    const endedAt = grant.ended_at ?? grant.expires_at;
    if (grant.status === 'revoked' && endedAt !== null) return { reason: 'grant-revoked', endedAt };
    if (grant.status === 'expired' && endedAt !== null) return { reason: 'grant-ended', endedAt };
    if (grant.expires_at !== null && grant.expires_at <= o.clock.now())
      return { reason: 'grant-ended', endedAt: grant.expires_at };
    return undefined;
  };

  /** After the bus's listener was away: ends the sessions of grants that ended meanwhile, as the events would have. */
  const resync = async (): Promise<void> => {
    const live = new Map<string, string>();
    for (const [grantId, set] of byGrant) for (const s of set) live.set(grantId, s.resource);
    for (const [grantId, resource] of live) {
      const end = await endOf(grantId);
      if (end !== undefined) await endGrant(grantId, resource, end.endedAt, end.reason);
    }
  };

  const onGrantEvent = (event: GrantEvent): void => {
    if (event.type === 'grant.activated') {
      // Made now, so that the first connection (or `--direct` credentials) finds it ready; should this fail, the
      // first connection tries again.
      background(provisionActivated(event), 'could not provision the role of a new grant');
      return;
    }
    const endedAt = new Date(event.endedAt ?? o.clock.now().toISOString());
    const reason = event.type === 'grant.revoked' ? 'grant-revoked' : 'grant-ended';
    background(endGrant(event.grantId, event.resource, endedAt, reason), 'could not end a grant’s sessions');
  };
  const unsubscribe = o.bus.subscribe(onGrantEvent);
  const unsubscribeResync = o.bus.onResync(() =>
    background(resync(), 'could not check live sessions’ grants after the event listener reconnected'),
  );

  const register = (session: Session): void => {
    let set = byGrant.get(session.grantId);
    if (set === undefined) byGrant.set(session.grantId, (set = new Set()));
    set.add(session);
  };
  const unregister = (session: Session): void => {
    const set = byGrant.get(session.grantId);
    set?.delete(session);
    if (set?.size === 0) byGrant.delete(session.grantId);
  };

  const recordRefusal = async (r: {
    readonly reasonCode: string;
    readonly user: string | undefined;
    readonly database: string | undefined;
    readonly clientAddress: string;
    readonly principal?: GatewayPrincipal;
    /** The grant the refused connection was for, when it got that far. */
    readonly grantId?: string;
  }): Promise<void> => {
    if (r.principal === undefined) {
      await o.refusals.record({
        reasonCode: r.reasonCode,
        clientAddress: r.clientAddress,
        method: 'postgres',
        route: 'gateway startup',
        repeatable: REPEATABLE_REFUSALS.has(r.reasonCode),
      });
      return;
    }
    await o.writer
      .append([
        {
          action: 'session.refuse',
          outcome: 'refused',
          reasonCode: r.reasonCode,
          who: { actor: r.principal.id },
          what: { resource: r.database?.slice(0, 200), requestId: r.grantId },
          how: { clientAddress: r.clientAddress, tokenId: r.principal.tokenId },
        },
      ])
      .catch((err: unknown) => logger.warn({ err }, 'could not audit a refused gateway connection'));
  };

  const refuseGrantLimit = async (
    accepted: AcceptedConnection<GatewayPrincipal, AccessRequestRow>,
    address: string,
    limit: number,
  ): Promise<void> => {
    await recordRefusal({
      reasonCode: GATEWAY_REFUSAL.grantConnectionLimit,
      user: undefined,
      database: accepted.database,
      clientAddress: address,
      principal: accepted.principal,
      grantId: accepted.grant.id,
    });
    fatal(
      accepted.socket,
      TOO_MANY_CONNECTIONS,
      `grant ${accepted.grant.id} allows ${limit} connection${limit === 1 ? '' : 's'} at once ` +
        '(--direct ones count too): close one and try again',
    );
  };

  /**
   * The grant's limit is its role's CONNECTION LIMIT in the database; counted here first, so that a connection over
   * it (on this replica) never reaches the database, and a role made under an older policy with a higher limit does
   * not let more in. Other replicas' and `--direct` sessions show as the database's refusal (handled in openSession).
   */
  const open = async (
    accepted: AcceptedConnection<GatewayPrincipal, AccessRequestRow>,
    address: string,
  ): Promise<void> => {
    const { grant } = accepted;
    const limit = o.policy().roles.get(grant.role)?.maxConnections;
    const live = (byGrant.get(grant.id)?.size ?? 0) + opening.count(grant.id);
    if (limit !== undefined && live >= limit) {
      await refuseGrantLimit(accepted, address, limit);
      return;
    }
    const release = opening.take(grant.id);
    try {
      await openSession(accepted, address);
    } finally {
      release();
    }
  };

  const openSession = async (
    accepted: AcceptedConnection<GatewayPrincipal, AccessRequestRow>,
    address: string,
  ): Promise<void> => {
    const { grant, principal } = accepted;
    const policy = o.policy();
    const resource = policy.resources.get(grant.resource);
    const role = policy.roles.get(grant.role);
    if (resource === undefined || role === undefined) {
      fatal(accepted.socket, '28000', `the policy no longer defines ${grant.role} on ${grant.resource}`);
      return;
    }
    let upstream: Upstream;
    let connection: UpstreamConnection;
    let credentials: GrantCredentials;
    try {
      upstream = o.upstreams.get(resource);
      credentials = await o.roles.ensure(
        upstream,
        { id: grant.id, expiresAt: grant.expires_at!, patientIds: grant.patient_ids },
        role,
        resource.phi,
      );
      connection = await connectUpstream({
        host: upstream.host,
        port: upstream.port,
        user: credentials.role,
        password: credentials.password,
        database: upstream.database,
        tls: upstream.tls,
      });
    } catch (err) {
      if (err instanceof GrantRoleEnded) {
        // The grant ended while this connection was being set up.
        fatal(accepted.socket, '57P01', `grant ${grant.id} has ended: ask again with \`phigate request\``);
        return;
      }
      if (err instanceof UpstreamRefused && err.sqlState === TOO_MANY_CONNECTIONS) {
        if (ROLE_LIMIT_MESSAGE.test(err.message)) {
          await refuseGrantLimit(accepted, address, role.maxConnections);
          return;
        }
        logger.warn({ resource: grant.resource }, 'the database refused a session: too many connections');
        fatal(
          accepted.socket,
          TOO_MANY_CONNECTIONS,
          `${grant.resource} has too many connections right now; try again later`,
        );
        return;
      }
      logger.error(
        { err, resource: grant.resource, grantId: grant.id },
        'gateway could not reach the database',
      );
      fatal(
        accepted.socket,
        '08006',
        `phigate could not open ${grant.resource} for you; the error is in its log`,
      );
      return;
    }
    const context: SessionContext = {
      grant,
      sessionId: randomUUID(),
      clientAddress: address,
      tokenId: principal.tokenId,
      databaseRole: credentials.role,
    };
    try {
      await o.writer.append([
        o.events.sessionOpened(context, {
          tls: accepted.tls,
          application: accepted.parameters.get('application_name'),
        }),
      ]);
    } catch {
      connection.socket.destroy();
      fatal(accepted.socket, '58000', 'the audit log is unavailable: the session was not opened');
      return;
    }
    const startedAt = Date.now();
    let statements = 0;
    const phi = rolePhi(role.access);
    // The cancel key is handed out by the relay, before the session it leads to exists.
    const target: { session?: Session } = {};
    const cancelKey = cancelKeys.issue(target);
    const audit = createSessionAudit({
      writer: o.writer,
      events: o.events,
      context,
      wait: o.auditWait,
      disclosureOf: (statement, result) => disclosureOf(statement, result, phi),
      keysOf: (column, values) =>
        credentials.patientKeys.keysOf(column as (typeof credentials.patientColumns)[number], values),
      now: () => o.clock.now(),
      onLost: () =>
        target.session?.relay.cut(
          'audit-lost',
          o.clock.now(),
          'the audit log could not record this session’s statements: the session is closed',
        ),
      onError: (err) => logger.error({ err, sessionId: context.sessionId }, 'gateway audit record lost'),
    });
    const relay = startRelay({
      client: accepted.socket,
      upstream: connection.socket,
      parameters: connection.parameters,
      cancelKey,
      audit: (statement) => {
        statements += 1;
        if (statement.refusedBy !== undefined) o.onStatement?.('refused');
        return audit.statement(statement);
      },
      guard: guard,
      completed: (statement, result) => {
        o.onStatement?.(result.outcome);
        return audit.completed(statement, result);
      },
      ...patientColumnLookup(credentials.patientColumns),
      endsAt: grant.expires_at!,
      grantLabel: `grant ${grant.id} (${grant.role} on ${grant.resource})`,
      idleTimeoutMs: role.idleTimeoutMs,
      whyTerminated: () => endOf(grant.id),
      onEnd: (reason) => {
        cancelKeys.release(cancelKey);
        if (target.session) unregister(target.session);
        if (
          (reason === 'grant-ended' || reason === 'grant-revoked' || reason === 'audit-lost') &&
          connection.backendKey
        )
          o.roles.terminate(upstream, [connection.backendKey.processId]);
        background(
          audit.close(reason, { statements, durationMs: Date.now() - startedAt }),
          'could not audit a session’s end',
        );
      },
    });
    const session: Session = {
      id: context.sessionId,
      grantId: grant.id,
      resource: grant.resource,
      relay,
      upstream,
      backendKey: connection.backendKey,
    };
    target.session = session;
    register(session);
    // The grant may have ended while this session was being set up: the announcement would have missed it.
    const end = ended.get(grant.id);
    if (end !== undefined) relay.cut(end.reason, end.at);
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
    socket.setTimeout(o.handshakeTimeoutMs, () => socket.destroy());
    if (!closing)
      background(
        recordRefusal({ reasonCode, user: undefined, database: undefined, clientAddress: address }),
        'could not audit a refused gateway connection',
      );
  };

  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const full = closing || sockets.size >= o.maxConnections;
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
    if (preAuth.count(address) >= o.maxPreAuthPerAddress) {
      refuseAtAccept(
        socket,
        address,
        GATEWAY_REFUSAL.preAuthLimit,
        `too many connections from your address are waiting to sign in (at most ${o.maxPreAuthPerAddress}): ` +
          'finish or close them, then try again',
      );
      return;
    }
    const signedIn = preAuth.take(address);
    socket.once('close', signedIn);
    background(
      acceptConnection<GatewayPrincipal, AccessRequestRow>(socket, {
        tls: o.tls,
        allowPlaintext: o.allowPlaintext,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        authenticate: (user, password) => o.auth.authenticate(user, password),
        authorize: (principal, database) => o.auth.authorize(principal, database),
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
        server.listen(o.port, o.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    get sessions() {
      let n = 0;
      for (const set of byGrant.values()) n += set.size;
      return n;
    },
    endGrant,
    async close() {
      closing = true;
      unsubscribe();
      unsubscribeResync();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const set of byGrant.values())
          for (const s of set)
            s.relay.cut('gateway-stopped', o.clock.now(), 'the phigate gateway is shutting down');
        for (const socket of sockets) socket.destroy();
      });
      await Promise.allSettled([...work]);
      await o.roles.settle();
    },
  };
}
