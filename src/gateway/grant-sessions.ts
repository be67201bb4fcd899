/**
 * The gateway's live sessions by grant, and what the grant events do to them: an activation makes the grant's
 * database role ahead of its first connection; an expiry or revocation cuts the grant's sessions and drops its role,
 * wherever the end happened (the bus brings other replicas' ends). After the bus's listener was away, the grants of
 * live sessions are read again through the access port, as the missed events would have told.
 *
 * Ends are remembered a while, so that a connection still being set up when its grant's end was announced is cut
 * as soon as it registers.
 */
import type { GrantDirectory } from '../access/grant-directory.js';
import type { GrantEvent, GrantEventBus } from '../access/types.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import { GrantRoleEnded, type GrantRoles } from '../provisioner/grant-roles.js';
import type { RelaySession } from './postgres/relay.js';
import type { UpstreamConnection } from './postgres/upstream-connect.js';
import type { Upstream, Upstreams } from '../provisioner/upstreams.js';

export interface Session {
  readonly id: string;
  readonly grantId: string;
  readonly resource: string;
  readonly relay: RelaySession;
  readonly upstream: Upstream;
  readonly backendKey: UpstreamConnection['backendKey'];
}

/** Why a session ended, as the relay reports it, when its grant ended. */
export interface SessionEnd {
  readonly reason: string;
  readonly endedAt: Date;
}

/** Grants that ended recently, so a connection that was being set up while the end was announced is cut too. */
const ENDED_MEMORY_MS = 10 * 60_000;

export interface GrantSessionsDeps {
  readonly policy: () => CompiledPolicy;
  readonly upstreams: Upstreams;
  readonly roles: GrantRoles;
  readonly grants: Pick<GrantDirectory, 'grantById' | 'endOf'>;
  readonly bus: Pick<GrantEventBus, 'subscribe' | 'onResync'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn'>;
  /** Runs work the gateway waits for on close (errors are logged as `what`). */
  readonly background: (work: Promise<unknown>, what: string) => void;
}

export type GrantSessions = ReturnType<typeof createGrantSessions>;

export function createGrantSessions(deps: GrantSessionsDeps) {
  const { clock, background } = deps;
  const byGrant = new Map<string, Set<Session>>();
  const ended = new Map<string, { at: Date; reason: string }>();

  /** The upstream of a resource this gateway serves; undefined for any other. */
  const upstreamOf = (resourceName: string): Upstream | undefined => {
    const definition = deps.policy().resources.get(resourceName);
    if (definition === undefined) return undefined;
    try {
      return deps.upstreams.get(definition);
    } catch {
      return undefined; // not a resource this gateway serves
    }
  };

  const endGrant = async (
    grantId: string,
    resource: string,
    endedAt: Date,
    reason: string,
  ): Promise<void> => {
    ended.set(grantId, { at: endedAt, reason });
    for (const [id, e] of ended)
      if (clock.now().getTime() - e.at.getTime() > ENDED_MEMORY_MS) ended.delete(id);
    for (const session of byGrant.get(grantId) ?? []) session.relay.cut(reason, endedAt);
    const upstream = upstreamOf(resource);
    // Also ends sessions that hold the role's credentials directly (`phigate connect --direct`).
    if (upstream !== undefined) await deps.roles.drop(upstream, grantId);
  };

  const provisionActivated = async (event: GrantEvent): Promise<void> => {
    const policy = deps.policy();
    const resource = policy.resources.get(event.resource);
    const role = policy.roles.get(event.role);
    if (resource === undefined || role === undefined) return;
    const upstream = upstreamOf(event.resource);
    if (upstream === undefined) return;
    // The event does not carry the grant's patients; its stored request does (a scoped role with none would see
    // every patient, so the role is not made from the event alone).
    const grant = role.patientScope === 'none' ? undefined : await deps.grants.grantById(event.grantId);
    if (role.patientScope !== 'none' && grant?.status !== 'active') return;
    await deps.roles
      .ensure(
        upstream,
        { id: event.grantId, expiresAt: new Date(event.expiresAt), patientIds: grant?.patientIds ?? [] },
        role,
        resource.phi,
      )
      .catch((err: unknown) => {
        if (!(err instanceof GrantRoleEnded)) throw err; // ended before it was made: nothing to do
      });
  };

  /** A grant's end as this replica heard it announced, or else as the access port has it; undefined while it lasts. */
  const endOf = async (grantId: string): Promise<SessionEnd | undefined> => {
    const heard = ended.get(grantId);
    if (heard !== undefined) return { reason: heard.reason, endedAt: heard.at };
    const end = await deps.grants.endOf(grantId);
    if (end === undefined) return undefined;
    return { reason: end.how === 'revoked' ? 'grant-revoked' : 'grant-ended', endedAt: end.endedAt };
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
    const endedAt = new Date(event.endedAt ?? clock.now().toISOString());
    const reason = event.type === 'grant.revoked' ? 'grant-revoked' : 'grant-ended';
    background(endGrant(event.grantId, event.resource, endedAt, reason), 'could not end a grant’s sessions');
  };
  const unsubscribe = deps.bus.subscribe(onGrantEvent);
  const unsubscribeResync = deps.bus.onResync(() =>
    background(resync(), 'could not check live sessions’ grants after the event listener reconnected'),
  );

  return {
    endGrant,
    endOf,
    /** Live sessions of the grant. */
    count: (grantId: string): number => byGrant.get(grantId)?.size ?? 0,
    get total(): number {
      let n = 0;
      for (const set of byGrant.values()) n += set.size;
      return n;
    },
    /** Adds a session; cut at once when its grant ended while it was being set up. */
    register(session: Session): void {
      let set = byGrant.get(session.grantId);
      if (set === undefined) byGrant.set(session.grantId, (set = new Set()));
      set.add(session);
      // The grant may have ended while this session was being set up: the announcement would have missed it.
      const end = ended.get(session.grantId);
      if (end !== undefined) session.relay.cut(end.reason, end.at);
    },
    unregister(session: Session): void {
      const set = byGrant.get(session.grantId);
      set?.delete(session);
      if (set?.size === 0) byGrant.delete(session.grantId);
    },
    /** Stops listening to grant events and cuts every session (the gateway is closing). */
    close(reason: string, message: string): void {
      unsubscribe();
      unsubscribeResync();
      for (const set of byGrant.values()) for (const s of set) s.relay.cut(reason, clock.now(), message);
    },
  };
}
