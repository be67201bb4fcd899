/**
 * The sweep of leftover grant roles: at start (before the gateway accepts anyone) and then periodically, the roles of
 * grants that are no longer active are dropped from every protected database phigate provisions — those of grants
 * that ended while phigate was down, or while this replica's event listener was away. Their `VALID UNTIL` already
 * keeps them from logging in; the sweep keeps them from lingering.
 */
import type { Logger } from '../lib/logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { GrantRoles } from './grant-roles.js';
import type { Upstream, Upstreams } from './upstreams.js';

export interface RoleSweepOptions {
  readonly roles: Pick<GrantRoles, 'sweep'>;
  readonly upstreams: Pick<Upstreams, 'get'>;
  /** The resources with a provisioning account (config `gateway.resources`). */
  readonly provisioned: (resource: string) => boolean;
  readonly policy: () => CompiledPolicy;
  /** Whether the grant is active now (a role of an active grant is kept). */
  readonly isGrantActive: (grantId: string) => Promise<boolean>;
  /** Told when the grant events may have been missed (the listener reconnected): sweep now, not at the next tick. */
  readonly onResync: (handler: () => void) => () => void;
  readonly intervalMs: number;
  readonly logger: Pick<Logger, 'warn'>;
}

export interface RoleSweep {
  /** Sweeps once, then every interval and at each resync. */
  start(): Promise<void>;
  /** Sweeps now; the roles removed. */
  sweep(): Promise<string[]>;
  /** No more sweeps; waits for the ones under way (so that none uses a pool as it closes). */
  stop(): Promise<void>;
}

export function createRoleSweep(options: RoleSweepOptions): RoleSweep {
  const { logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  const running = new Set<Promise<unknown>>();

  /** The upstreams of the policy's resources that have a provisioning account; a misconfigured one is skipped. */
  const provisionedUpstreams = (): Upstream[] => {
    const out: Upstream[] = [];
    for (const resource of options.policy().resources.values()) {
      if (!options.provisioned(resource.name)) continue;
      try {
        out.push(options.upstreams.get(resource));
      } catch (err) {
        logger.warn({ err, resource: resource.name }, 'gateway resource is misconfigured');
      }
    }
    return out;
  };
  const sweep = (): Promise<string[]> => {
    const p = options.roles.sweep(provisionedUpstreams(), options.isGrantActive);
    running.add(p);
    const forget = () => running.delete(p);
    p.then(forget, forget);
    return p;
  };
  const sweepInBackground = (): void => {
    sweep().catch((err: unknown) => logger.warn({ err }, 'grant role sweep failed'));
  };

  return {
    sweep,
    async start() {
      await sweep();
      timer = setInterval(sweepInBackground, options.intervalMs);
      timer.unref();
      unsubscribe = options.onResync(sweepInBackground);
    },
    async stop() {
      clearInterval(timer);
      unsubscribe?.();
      timer = undefined;
      unsubscribe = undefined;
      await Promise.allSettled([...running]);
    },
  };
}
