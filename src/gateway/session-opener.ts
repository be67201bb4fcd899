/**
 * One accepted connection's way into its grant's database: the grant's connection limit, the grant's role made if
 * needed (grant-roles.ts), login upstream as that role (upstream-connect.ts), `session.open` recorded — or the
 * session is not opened — then the relay, whose end releases the cancel key, records `session.close` and, when the
 * grant ended, terminates the backend so nothing keeps running on the database.
 */
import { randomUUID } from 'node:crypto';
import type { Grant } from '../access/grant.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy, ResourceDefinition, RoleDefinition } from '../policy/types.js';
import type { CancelKeys } from './cancel-keys.js';
import { disclosureOf, rolePhi } from './disclosure.js';
import type { GatewayPrincipal } from './gateway-auth.js';
import type { GatewayRefusal } from './gateway-refusals.js';
import type { GrantSessions, Session } from './grant-sessions.js';
import { GrantRoleEnded, type GrantCredentials, type GrantRoles } from '../provisioner/grant-roles.js';
import { errorResponse } from './postgres/backend-messages.js';
import type { AcceptedConnection } from './postgres/connect-phase.js';
import { startRelay, type RelayOptions } from './postgres/relay.js';
import type { GuardVerdict } from './postgres/sql-guard.js';
import type { StatementResult } from './postgres/statement-tracker.js';
import { connectUpstream, UpstreamRefused, type UpstreamConnection } from './postgres/upstream-connect.js';
import { GATEWAY_REFUSAL } from './refusal-reasons.js';
import { createSessionAudit, type AuditWait } from './session-audit.js';
import { SlotCounter } from './slot-counter.js';
import type { SessionContext, StatementEvents } from './statement-events.js';
import type { Upstream, Upstreams } from '../provisioner/upstreams.js';

/** What became of a statement sent through the gateway. */
export type StatementOutcome = 'refused' | StatementResult['outcome'];

export type Accepted = AcceptedConnection<GatewayPrincipal, Grant>;

/** PostgreSQL's too_many_connections: its own limits (roles, databases, the server) and the gateway's. */
export const TOO_MANY_CONNECTIONS = '53300';
/**
 * PostgreSQL's message when a role's CONNECTION LIMIT is reached. A server with translated messages words it
 * otherwise: its refusal is then reported as the database being full, still as 53300.
 */
const ROLE_LIMIT_MESSAGE = /too many connections for role/;

export interface SessionOpenerDeps {
  readonly policy: () => CompiledPolicy;
  readonly upstreams: Upstreams;
  readonly roles: GrantRoles;
  readonly writer: Pick<AuditWriter, 'append' | 'backlog' | 'healthy'>;
  readonly events: StatementEvents;
  readonly auditWait: AuditWait;
  readonly sessions: Pick<GrantSessions, 'count' | 'register' | 'unregister' | 'endOf'>;
  readonly cancelKeys: CancelKeys<{ session?: Session }>;
  readonly guard: (sql: string) => Promise<GuardVerdict>;
  readonly recordRefusal: (r: GatewayRefusal) => Promise<void>;
  readonly background: (work: Promise<unknown>, what: string) => void;
  readonly onStatement?: ((outcome: StatementOutcome) => void) | undefined;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn' | 'error'>;
}

/** The relay's look-up of result columns naming patients; none (nothing to read) when the role reads none. */
function patientColumnLookup(
  columns: GrantCredentials['patientColumns'],
): Pick<RelayOptions, 'patientColumnOf'> {
  if (columns.length === 0) return {};
  const byPlace = new Map(columns.map((c) => [`${c.relation}:${c.attnum}`, c]));
  return { patientColumnOf: (relation, attnum) => byPlace.get(`${relation}:${attnum}`) };
}

function fatal(accepted: Accepted, code: string, message: string): void {
  accepted.socket.end(errorResponse({ severity: 'FATAL', code, message }));
}

/** The upstream login of a session, or undefined when the client was told why there is none. */
interface Upstreamed {
  readonly upstream: Upstream;
  readonly connection: UpstreamConnection;
  readonly credentials: GrantCredentials;
}

export function createSessionOpener(deps: SessionOpenerDeps) {
  const { logger, clock, sessions } = deps;
  /** Sessions past the grant check and not yet registered, per grant (they count against its limit too). */
  const opening = new SlotCounter();

  const refuseGrantLimit = async (accepted: Accepted, address: string, limit: number): Promise<void> => {
    await deps.recordRefusal({
      reasonCode: GATEWAY_REFUSAL.grantConnectionLimit,
      user: undefined,
      database: accepted.database,
      clientAddress: address,
      principal: accepted.principal,
      grantId: accepted.grant.id,
    });
    fatal(
      accepted,
      TOO_MANY_CONNECTIONS,
      `grant ${accepted.grant.id} allows ${limit} connection${limit === 1 ? '' : 's'} at once ` +
        '(--direct ones count too): close one and try again',
    );
  };

  /** Logs in upstream as the grant's role (made if needed); on failure, tells the client why and returns nothing. */
  const connect = async (
    accepted: Accepted,
    address: string,
    resource: ResourceDefinition,
    role: RoleDefinition,
  ): Promise<Upstreamed | undefined> => {
    const { grant } = accepted;
    try {
      const upstream = deps.upstreams.get(resource);
      // A grant is what its role is made for: its id, its end and its patients.
      const credentials = await deps.roles.ensure(upstream, grant, role, resource.phi);
      const connection = await connectUpstream({
        host: upstream.host,
        port: upstream.port,
        user: credentials.role,
        password: credentials.password,
        database: upstream.database,
        tls: upstream.tls,
      });
      return { upstream, connection, credentials };
    } catch (err) {
      if (err instanceof GrantRoleEnded) {
        // The grant ended while this connection was being set up.
        fatal(accepted, '57P01', `grant ${grant.id} has ended: ask again with \`phigate request\``);
      } else if (err instanceof UpstreamRefused && err.sqlState === TOO_MANY_CONNECTIONS) {
        if (ROLE_LIMIT_MESSAGE.test(err.message)) {
          await refuseGrantLimit(accepted, address, role.maxConnections);
        } else {
          logger.warn({ resource: grant.resource }, 'the database refused a session: too many connections');
          const message = `${grant.resource} has too many connections right now; try again later`;
          fatal(accepted, TOO_MANY_CONNECTIONS, message);
        }
      } else {
        logger.error(
          { err, resource: grant.resource, grantId: grant.id },
          'gateway could not reach the database',
        );
        fatal(accepted, '08006', `phigate could not open ${grant.resource} for you; the error is in its log`);
      }
      return undefined;
    }
  };

  /** The session's statement audit; a lost record cuts the session (its `target`, once registered). */
  const sessionAudit = (
    context: SessionContext,
    role: RoleDefinition,
    credentials: GrantCredentials,
    target: { session?: Session },
  ) => {
    const phi = rolePhi(role.access);
    return createSessionAudit({
      writer: deps.writer,
      events: deps.events,
      context,
      wait: deps.auditWait,
      disclosureOf: (statement, result) => disclosureOf(statement, result, phi),
      keysOf: (column, values) =>
        credentials.patientKeys.keysOf(column as (typeof credentials.patientColumns)[number], values),
      now: () => clock.now(),
      onLost: () =>
        target.session?.relay.cut(
          'audit-lost',
          clock.now(),
          'the audit log could not record this session’s statements: the session is closed',
        ),
      onError: (err) => logger.error({ err, sessionId: context.sessionId }, 'gateway audit record lost'),
    });
  };

  /** Records `session.open` (or refuses the session), then relays until the session ends, whatever ends it. */
  const relay = async (
    accepted: Accepted,
    address: string,
    role: RoleDefinition,
    up: Upstreamed,
  ): Promise<void> => {
    const { grant, principal } = accepted;
    const { upstream, connection, credentials } = up;
    const context: SessionContext = {
      grant,
      sessionId: randomUUID(),
      clientAddress: address,
      tokenId: principal.tokenId,
      databaseRole: credentials.role,
    };
    try {
      const application = accepted.parameters.get('application_name');
      await deps.writer.append([deps.events.sessionOpened(context, { tls: accepted.tls, application })]);
    } catch {
      connection.socket.destroy();
      fatal(accepted, '58000', 'the audit log is unavailable: the session was not opened');
      return;
    }
    const startedAt = clock.now().getTime();
    let statements = 0;
    // The cancel key is handed out by the relay, before the session it leads to exists.
    const target: { session?: Session } = {};
    const cancelKey = deps.cancelKeys.issue(target);
    const audit = sessionAudit(context, role, credentials, target);
    const relaySession = startRelay({
      client: accepted.socket,
      upstream: connection.socket,
      parameters: connection.parameters,
      cancelKey,
      audit: (statement) => {
        statements += 1;
        if (statement.refusedBy !== undefined) deps.onStatement?.('refused');
        return audit.statement(statement);
      },
      guard: deps.guard,
      clock,
      completed: (statement, result) => {
        deps.onStatement?.(result.outcome);
        return audit.completed(statement, result);
      },
      ...patientColumnLookup(credentials.patientColumns),
      endsAt: grant.expiresAt,
      grantLabel: `grant ${grant.id} (${grant.role} on ${grant.resource})`,
      idleTimeoutMs: role.idleTimeoutMs,
      whyTerminated: () => sessions.endOf(grant.id),
      onEnd: (reason) => {
        deps.cancelKeys.release(cancelKey);
        if (target.session) sessions.unregister(target.session);
        if (
          (reason === 'grant-ended' || reason === 'grant-revoked' || reason === 'audit-lost') &&
          connection.backendKey
        )
          deps.roles.terminate(upstream, [connection.backendKey.processId]);
        const durationMs = clock.now().getTime() - startedAt;
        deps.background(audit.close(reason, { statements, durationMs }), 'could not audit a session’s end');
      },
    });
    const session: Session = {
      id: context.sessionId,
      grantId: grant.id,
      resource: grant.resource,
      relay: relaySession,
      upstream,
      backendKey: connection.backendKey,
    };
    target.session = session;
    sessions.register(session);
  };

  const openSession = async (accepted: Accepted, address: string): Promise<void> => {
    const { grant } = accepted;
    const policy = deps.policy();
    const resource = policy.resources.get(grant.resource);
    const role = policy.roles.get(grant.role);
    if (resource === undefined || role === undefined) {
      fatal(accepted, '28000', `the policy no longer defines ${grant.role} on ${grant.resource}`);
      return;
    }
    const up = await connect(accepted, address, resource, role);
    if (up !== undefined) await relay(accepted, address, role, up);
  };

  /**
   * The grant's limit is its role's CONNECTION LIMIT in the database; counted here first, so that a connection over
   * it (on this replica) never reaches the database, and a role made under an older policy with a higher limit does
   * not let more in. Other replicas' and `--direct` sessions show as the database's refusal (handled in connect).
   */
  return async (accepted: Accepted, address: string): Promise<void> => {
    const { grant } = accepted;
    const limit = deps.policy().roles.get(grant.role)?.maxConnections;
    const live = sessions.count(grant.id) + opening.count(grant.id);
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
}
