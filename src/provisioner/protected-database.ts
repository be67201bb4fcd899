/**
 * The protected databases as one module: the provisioning account's pools for each, the lifecycle of grants' roles in
 * them, the look-ups in their data (care relations, whether named patients exist) and the sweep of leftover roles.
 * The access service and the gateway both use it, and it runs whether or not the gateway listens: the composition
 * root makes it once, starts the sweep before the gateway accepts anyone, and closes the pools last.
 */
import type { CareRelations, PatientDirectory } from '../access/types.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import { createCareRelations } from './care-relation-adapter.js';
import { createGrantRoles, type GrantRoles } from './grant-roles.js';
import { createPatientDirectory } from './known-patients-adapter.js';
import { createRoleSweep, type RoleSweep } from './role-sweep.js';
import { createUpstreams, type Upstreams } from './upstreams.js';

export interface ProtectedDatabaseOptions {
  /** Where each protected database is and its provisioning account (config `gateway.resources`). */
  readonly resources: Readonly<Record<string, UpstreamConfig>>;
  readonly policy: () => CompiledPolicy;
  /** The shared secret (the audit HMAC key) role passwords are derived from. */
  readonly secret: Buffer;
  /** Whether a grant is active now: the sweep keeps the roles of those that are. */
  readonly isGrantActive: (grantId: string) => Promise<boolean>;
  /** Told when grant events may have been missed (the bus's resync). */
  readonly onResync: (handler: () => void) => () => void;
  /** The issuers phigate trusts (known once identity is configured), for care-relation identities. */
  readonly trustedIssuers: () => readonly string[];
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn' | 'error' | 'info'>;
  /** How often leftover roles of ended grants are looked for. */
  readonly sweepIntervalMs?: number | undefined;
}

export interface ProtectedDatabase {
  readonly upstreams: Upstreams;
  readonly roles: GrantRoles;
  readonly careRelations: CareRelations;
  readonly patients: PatientDirectory;
  readonly sweep: Pick<RoleSweep, 'sweep'>;
  /** Sweeps the roles of grants that ended while phigate was down, then keeps sweeping. */
  start(): Promise<void>;
  /** Stops the sweep, waits for role work under way, closes the pools. */
  close(): Promise<void>;
}

export function createProtectedDatabase(options: ProtectedDatabaseOptions): ProtectedDatabase {
  const upstreams = createUpstreams(options.resources);
  const roles = createGrantRoles({ secret: options.secret, clock: options.clock, logger: options.logger });
  const sweep = createRoleSweep({
    roles,
    upstreams,
    provisioned: (resource) => options.resources[resource] !== undefined,
    policy: options.policy,
    isGrantActive: options.isGrantActive,
    onResync: options.onResync,
    intervalMs: options.sweepIntervalMs ?? 60_000,
    logger: options.logger,
  });
  return {
    upstreams,
    roles,
    careRelations: createCareRelations(upstreams, options.trustedIssuers),
    patients: createPatientDirectory(upstreams),
    sweep,
    start: () => sweep.start(),
    async close() {
      await sweep.stop();
      await roles.settle();
      await upstreams.close();
    },
  };
}
