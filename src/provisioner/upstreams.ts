/**
 * Where each protected database is and how phigate provisions it: host, port and database name from the policy
 * resource's `connection` (overridable in config), the provisioning account and TLS from config (secrets never live
 * in the policy). One small pool per resource for the provisioning account, opened on first use.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { UpstreamConfig } from '../config/schema.js';
import { PhigateError } from '../lib/errors.js';
import type { ResourceDefinition } from '../policy/types.js';
import type { UpstreamTls } from './upstream-tls.js';

export interface Upstream {
  readonly resource: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly tls: UpstreamTls | undefined;
  /** The provisioning account's pool for roles. */
  admin(): pg.Pool;
  /** The provisioning account's pool for look-ups in the data (care relations). */
  lookups(): pg.Pool;
}

export interface Upstreams {
  /** The resource's upstream, or a PhigateError saying what configuration is missing. */
  get(resource: ResourceDefinition): Upstream;
  /** Every resource with a provisioning account, for the sweep of leftover roles. */
  configured(): readonly Upstream[];
  close(): Promise<void>;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function createUpstreams(config: Readonly<Record<string, UpstreamConfig>>): Upstreams {
  const cache = new Map<string, Upstream>();
  const pools = new Map<string, pg.Pool>();

  /**
   * The provisioning account's pools: one for roles (made and dropped), and a small one for look-ups in the data
   * (care relations), so that a burst of requests can never hold up the drop of an ended grant's role.
   */
  const poolOf = (
    name: string,
    use: 'provisioner' | 'lookup',
    adminUrl: string,
    tls: UpstreamTls | undefined,
  ): pg.Pool => {
    const key = `${name}\u0000${use}`;
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = new pg.Pool({
        connectionString: adminUrl,
        max: use === 'provisioner' ? 4 : 2,
        idleTimeoutMillis: 30_000,
        // Waiting longer for a connection than a look-up may take is failing: the request is refused, not queued.
        ...(use === 'lookup' ? { connectionTimeoutMillis: 5_000 } : {}),
        application_name: `phigate-${use}`,
        ...(tls ? { ssl: { ...tls, rejectUnauthorized: true } } : {}),
      });
      // An idle pooled connection that drops is replaced on next use; the error must not crash the process.
      pool.on('error', () => undefined);
      pools.set(key, pool);
    }
    return pool;
  };

  const build = (name: string, connection: Readonly<Record<string, unknown>>): Upstream => {
    const c = config[name];
    const missing = (what: string): PhigateError =>
      new PhigateError(
        'unavailable',
        'gateway.resource-unconfigured',
        `the gateway cannot reach ${name}: ${what} (gateway.resources.${name} in phigate.yaml)`,
      );
    if (c === undefined) throw missing('no provisioning account is configured');
    const host = c.host ?? text(connection['host']);
    const portValue = c.port ?? connection['port'];
    const port = typeof portValue === 'number' ? portValue : 5432;
    const database = c.database ?? text(connection['database']);
    if (host === undefined) throw missing('no host');
    if (database === undefined) throw missing('no database name');
    const adminUrl = c.adminUrl ?? (c.adminUrlFile ? readFileSync(c.adminUrlFile, 'utf8').trim() : undefined);
    if (adminUrl === undefined) throw missing('no adminUrl or adminUrlFile');
    const tls: UpstreamTls | undefined =
      c.tls.mode === 'verify-full'
        ? {
            servername: c.tls.servername ?? host,
            ...(c.tls.caFile ? { ca: readFileSync(c.tls.caFile) } : {}),
          }
        : undefined;
    return {
      resource: name,
      host,
      port,
      database,
      tls,
      admin: () => poolOf(name, 'provisioner', adminUrl, tls),
      lookups: () => poolOf(name, 'lookup', adminUrl, tls),
    };
  };

  return {
    get(resource) {
      let upstream = cache.get(resource.name);
      if (upstream === undefined) {
        upstream = build(resource.name, resource.connection);
        cache.set(resource.name, upstream);
      }
      return upstream;
    },
    configured() {
      return [...cache.values()];
    },
    async close() {
      await Promise.allSettled([...pools.values()].map((p) => p.end()));
      pools.clear();
    },
  };
}
