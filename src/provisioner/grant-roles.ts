/**
 * The lifecycle of grants' database roles across every protected database: made when a grant activates (or at its
 * first connection, whichever comes first — both idempotent, so replicas may race), removed when it ends, and swept
 * at start and periodically so that roles of grants that ended while phigate was down do not linger (their
 * `VALID UNTIL` already keeps them from logging in).
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { PhiTable, RoleDefinition } from '../policy/types.js';
import { patientIdColumns, type PatientIdColumn } from './patient-columns.js';
import { createPatientKeys, type PatientKeys } from './patient-keys.js';
import { dropGrantRole, ensureGrantRole, sweepGrantRoles } from './provisioner.js';
import { grantRolePassword } from './role-password.js';
import { roleNameFor } from './role-plan.js';
import type { Upstream } from './upstreams.js';

export interface GrantForRole {
  readonly id: string;
  readonly expiresAt: Date;
  /** The grant's patients (none: not patient-scoped). */
  readonly patientIds: readonly string[];
}

/** The grant's role was dropped (the grant ended): it is not made again. */
export class GrantRoleEnded extends Error {
  override readonly name = 'GrantRoleEnded';
  constructor(grantId: string) {
    super(`grant ${grantId} has ended: its role is not made again`);
  }
}

export interface GrantCredentials {
  readonly role: string;
  readonly password: string;
  /**
   * Where its role reads values that name patients, so that the gateway can account for the patients each statement
   * returned (a patient-scoped grant's statements whose results cannot be keyed are accounted to its patients).
   */
  readonly patientColumns: readonly PatientIdColumn[];
  /** The patient keys behind those values, looked up and kept for this grant. */
  readonly patientKeys: PatientKeys;
}

export interface GrantRoles {
  /** The grant's role and password, creating the role if needed. */
  ensure(
    upstream: Upstream,
    grant: GrantForRole,
    role: RoleDefinition,
    phi: ReadonlyMap<string, PhiTable>,
  ): Promise<GrantCredentials>;
  /** Closes logins, terminates the role's backends, drops it. Idempotent. */
  drop(upstream: Upstream, grantId: string): Promise<number>;
  /** Terminates these backends now (sessions cut at the grant's end), batched per database. */
  terminate(upstream: Upstream, pids: readonly number[]): void;
  sweep(upstreams: readonly Upstream[], isActive: (grantId: string) => Promise<boolean>): Promise<string[]>;
  /** Waits for terminations and drops under way. */
  settle(): Promise<void>;
}

export function createGrantRoles(options: {
  readonly secret: Buffer;
  /** When a role was dropped, for forgetting old drops (the injected clock, as everywhere else). */
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn' | 'error' | 'info'>;
}): GrantRoles {
  const { clock, logger } = options;
  const ensuring = new Map<string, Promise<GrantCredentials>>();
  // Grants whose role was dropped, with when: a provisioning still under way (or one that starts late, from an
  // activation event handled after the revocation) must not bring the role back.
  const dropped = new Map<string, number>();
  const ENDED_MEMORY_MS = 10 * 60_000;
  const pending = new Map<Upstream, number[]>();
  const work = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    work.add(p);
    void p.then(
      () => work.delete(p),
      () => work.delete(p),
    );
    return p;
  };

  const flushTerminations = (): void => {
    for (const [upstream, pids] of pending) {
      pending.delete(upstream);
      void track(
        upstream
          .admin()
          .query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [pids])
          .catch((err: unknown) =>
            logger.warn({ err, resource: upstream.resource }, 'could not terminate backends'),
          ),
      );
    }
  };

  return {
    ensure(upstream, grant, role, phi) {
      const key = `${upstream.resource}\u0000${grant.id}`;
      if (dropped.has(key)) return Promise.reject(new GrantRoleEnded(grant.id));
      let p = ensuring.get(key);
      if (p === undefined) {
        p = ensureGrantRole(upstream.admin(), {
          grantId: grant.id,
          expiresAt: grant.expiresAt,
          database: upstream.database,
          access: role.access,
          patientIds: grant.patientIds,
          connectionLimit: role.maxConnections,
          password: grantRolePassword(options.secret, grant.id),
        }).then(async (made) => ({
          ...made,
          patientColumns: await patientIdColumns(upstream.admin(), made.role, role.access, phi),
          patientKeys: createPatientKeys(() => upstream.admin()),
        }));
        ensuring.set(key, p);
        // Only the outcome matters to later callers; a failure is retried by the next connection.
        p.then(
          () => undefined,
          () => ensuring.delete(key),
        );
      }
      return p;
    },
    async drop(upstream, grantId) {
      const key = `${upstream.resource}\u0000${grantId}`;
      const now = clock.now().getTime();
      for (const [k, at] of dropped) if (now - at > ENDED_MEMORY_MS) dropped.delete(k);
      dropped.set(key, now);
      // A creation under way finishes first, so that the drop removes what it made.
      const making = ensuring.get(key);
      ensuring.delete(key);
      await making?.catch(() => undefined);
      const { terminated } = await track(dropGrantRole(upstream.admin(), roleNameFor(grantId)));
      return terminated;
    },
    terminate(upstream, pids) {
      if (pids.length === 0) return;
      if (pending.size === 0) setImmediate(flushTerminations);
      pending.set(upstream, [...(pending.get(upstream) ?? []), ...pids]);
    },
    async sweep(upstreams, isActive) {
      const removed: string[] = [];
      for (const upstream of upstreams) {
        try {
          const swept = await sweepGrantRoles(upstream.admin(), isActive);
          removed.push(...swept.removed);
          for (const { role, error } of swept.failed)
            logger.warn(
              { err: error, role, resource: upstream.resource },
              'could not remove an ended grant’s role',
            );
        } catch (err) {
          logger.warn({ err, resource: upstream.resource }, 'could not sweep grant roles');
        }
      }
      if (removed.length > 0) logger.info({ removed: removed.length }, 'removed roles of ended grants');
      return removed;
    },
    async settle() {
      flushTerminations();
      await Promise.allSettled([...work]);
    },
  };
}
