/**
 * Benchmark: 10,000 grants expiring within the same minute. Each must be expired at most 50 ms after its
 * `expires_at` (p99). Lateness is measured where a subscriber (the gateway) would notice: the moment the
 * `grant.expired` event arrives on the bus, which is after the expiry and its audit record committed.
 *
 *   npx tsx bench/control-expiry.ts            # embedded PostgreSQL in a temp dir
 *   PHIGATE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/control-expiry.ts
 *
 * Options (env): BENCH_GRANTS (10000), BENCH_SPREAD_MS (60000).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { createGrantEventBus } from '../src/access/event-bus.js';
import { createExpiryScheduler } from '../src/access/expiry-scheduler.js';
import { createPseudonymizer } from '../src/audit/pseudonymizer.js';
import { systemClock } from '../src/lib/clock.js';
import { openDatabase } from '../src/store/database.js';
import { admin, percentile, withServer } from './bench-db.js';
import { migrateToLatest } from '../src/store/migrate.js';

const GRANTS = Number(process.env.BENCH_GRANTS ?? 10_000);
const SPREAD_MS = Number(process.env.BENCH_SPREAD_MS ?? 60_000);
const LEAD_MS = 3_000;
const POLICY = '0'.repeat(64);

async function run(adminUrl: string): Promise<void> {
  const name = `phigate_bench_${randomBytes(4).toString('hex')}`;
  await admin(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const store = openDatabase(url.toString());
  const logger = pino({ level: 'warn' });
  try {
    await migrateToLatest(store.db as never);
    await store.db
      .insertInto('policy_versions')
      .values({ hash: POLICY, source_name: 'bench', source: '' })
      .execute();

    const t0 = Date.now() + LEAD_MS;
    const expiresAt = new Map<string, number>();
    const rows = Array.from({ length: GRANTS }, () => {
      const id = randomUUID();
      const at = t0 + Math.floor(Math.random() * SPREAD_MS);
      expiresAt.set(id, at);
      return {
        id,
        requester_id: `bench#u${id.slice(0, 4)}`,
        requester: '{}',
        resource: 'ehr',
        role: 'analyst',
        duration_ms: 60_000,
        purpose: 'HOPERAT',
        justification: 'bench',
        scope_hash: 'bench',
        patient_ids: '[]',
        emergency: false,
        policy_hash: POLICY,
        decision: '{"outcome":"allow"}',
        status: 'active' as const,
        created_at: new Date(),
        activated_at: new Date(),
        expires_at: new Date(at),
      };
    });
    for (let i = 0; i < rows.length; i += 1000) {
      await store.db
        .insertInto('access_requests')
        .values(rows.slice(i, i + 1000))
        .execute();
    }
    if (Date.now() > t0) throw new Error('seeding took longer than the lead time; raise LEAD_MS');

    const bus = createGrantEventBus({ pool: store.pool, replicaId: 'bench', logger });
    const lateness: number[] = [];
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    bus.subscribe((e) => {
      if (e.type !== 'grant.expired') return;
      const at = expiresAt.get(e.grantId);
      if (at === undefined) return;
      lateness.push(Date.now() - at);
      if (lateness.length === GRANTS) resolveDone();
    });
    const scheduler = createExpiryScheduler({
      db: store.db,
      bus,
      clock: systemClock,
      logger,
      pseudonymizer: createPseudonymizer(randomBytes(32)),
    });
    await scheduler.start();
    const deadline = setTimeout(resolveDone, LEAD_MS + SPREAD_MS + 20_000);
    await done;
    clearTimeout(deadline);
    await scheduler.stop();
    await bus.close();

    const batches = await store.db
      .selectFrom('access_requests')
      .select((eb) => eb.fn.count<number>('ended_at').distinct().as('n'))
      .executeTakeFirstOrThrow();
    const sorted = [...lateness].sort((a, b) => a - b);
    const line = (label: string, v: number): string => `  ${label.padEnd(6)} ${v.toFixed(0).padStart(6)} ms`;
    console.log(`control-expiry: ${GRANTS} grants expiring over ${SPREAD_MS / 1000} s`);
    console.log(
      `  expired ${sorted.length}/${GRANTS}; ${Number(batches.n)} expiry transactions (distinct ended_at)`,
    );
    console.log(line('p50', percentile(sorted, 50)));
    console.log(line('p99', percentile(sorted, 99)));
    console.log(line('max', sorted.at(-1) ?? NaN));
    const p99 = percentile(sorted, 99);
    console.log(`  target p99 <= 50 ms: ${p99 <= 50 && sorted.length === GRANTS ? 'met' : 'NOT met'}`);
    if (sorted.length !== GRANTS) process.exitCode = 1;
  } finally {
    await store.close();
    await admin(adminUrl, `drop database if exists ${name} with (force)`);
  }
}

await withServer(run);
