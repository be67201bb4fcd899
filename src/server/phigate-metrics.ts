/**
 * phigate's own metrics, next to the HTTP and process ones (metrics.ts). State that lives in the store — active
 * grants, pending requests, the audit log's length, the last checkpoint — is read when Prometheus scrapes, so every
 * replica reports the same truth and nothing drifts across restarts; events that happen in this process — gateway
 * statements, expiries — are counted where they happen.
 */
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../lib/clock.js';
import type { Db } from '../store/database.js';
import type { StatementOutcome } from '../gateway/gateway-server.js';

export interface PhigateMetricsOptions {
  readonly registry: Registry;
  readonly db: Db;
  readonly clock: Clock;
  /** Audit events accepted by this process's writer and not yet committed. */
  readonly auditBacklog: () => number;
  /** Live gateway sessions of this process; undefined while the gateway is off. */
  readonly gatewaySessions: () => number | undefined;
  /** A scrape whose store query failed: reported, and the gauge is left without a sample rather than a lie. */
  readonly onError: (err: unknown) => void;
}

export interface PhigateMetrics {
  /** A statement through the gateway: refused by the guard, or as the database answered. */
  readonly statement: (outcome: StatementOutcome) => void;
  /** A grant expired this late after its end. */
  readonly expired: (lateMs: number) => void;
}

export function createPhigateMetrics(o: PhigateMetricsOptions): PhigateMetrics {
  const registers = [o.registry];
  /** Runs a store read for a gauge; on failure the gauge has no sample this scrape. */
  const fromStore = async (gauge: { reset(): void }, read: () => Promise<void>): Promise<void> => {
    gauge.reset();
    await read().catch((err: unknown) => o.onError(err));
  };

  new Gauge({
    name: 'phigate_active_grants',
    help: 'Grants active now, by role (from the store, at scrape)',
    labelNames: ['role'] as const,
    registers,
    async collect() {
      await fromStore(this, async () => {
        const rows = await o.db
          .selectFrom('access_requests')
          .select(['role', (eb) => eb.fn.countAll<string>().as('n')])
          .where('status', '=', 'active')
          .groupBy('role')
          .execute();
        for (const r of rows) this.set({ role: r.role }, Number(r.n));
      });
    },
  });
  new Gauge({
    name: 'phigate_pending_requests',
    help: 'Requests waiting for approvers (from the store, at scrape)',
    registers,
    async collect() {
      await fromStore(this, async () => {
        const row = await o.db
          .selectFrom('access_requests')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('status', '=', 'pending')
          .executeTakeFirstOrThrow();
        this.set(Number(row.n));
      });
    },
  });
  new Gauge({
    name: 'phigate_audit_events',
    help: 'Events in the audit log, all replicas (its increase is the rate of appends; from the store, at scrape)',
    registers,
    async collect() {
      await fromStore(this, async () => {
        const row = await sql<{ n: string | null }>`select max(seq) as n from audit_events`.execute(o.db);
        this.set(Number(row.rows[0]?.n ?? 0));
      });
    },
  });
  new Gauge({
    name: 'phigate_audit_checkpoint_age_seconds',
    help: 'Seconds since the latest signed checkpoint of the audit log; no sample before the first one',
    registers,
    async collect() {
      await fromStore(this, async () => {
        const row = await o.db
          .selectFrom('audit_checkpoints')
          .select((eb) => eb.fn.max('signed_at').as('at'))
          .executeTakeFirst();
        const at = row?.at;
        if (at !== null && at !== undefined)
          this.set(Math.max(0, (o.clock.now().getTime() - new Date(at).getTime()) / 1000));
      });
    },
  });
  new Gauge({
    name: 'phigate_audit_backlog',
    help: 'Audit events this process has accepted and not yet committed',
    registers,
    collect() {
      this.set(o.auditBacklog());
    },
  });
  new Gauge({
    name: 'phigate_gateway_sessions',
    help: 'Live PostgreSQL gateway sessions of this process',
    registers,
    collect() {
      this.reset();
      const n = o.gatewaySessions();
      if (n !== undefined) this.set(n);
    },
  });
  const statements = new Counter({
    name: 'phigate_gateway_statements_total',
    help: 'Statements sent through the gateway, by outcome: success, failure (the database refused), skipped, refused (by phigate)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const lateness = new Histogram({
    name: 'phigate_grant_expiry_lateness_seconds',
    help: 'How long after its end each grant was expired by this process',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers,
  });
  return {
    statement: (outcome) => statements.inc({ outcome }),
    expired: (lateMs) => lateness.observe(Math.max(0, lateMs) / 1000),
  };
}
