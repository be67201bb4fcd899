/**
 * Benchmark of the PostgreSQL gateway (issue 4), every comparison measured side by side in one run, against one
 * embedded PostgreSQL that serves TLS, with the same role (the grant's own, confined to its columns) on every path
 * and TLS from the client on every path:
 *
 *  1. Throughput: `pgbench -S -c 10 -j 2 -T N` directly, through phigate's gateway (audit and guards on) and through
 *     PgBouncer (session mode, client TLS), interleaved over several rounds, medians; simple and prepared protocol.
 *  2. Added latency at one client: pgbench -c 1 per-transaction latencies (p50) through the gateway vs directly.
 *  3. Memory: this process's RSS (phigate runs in it) with 500 connected gateway sessions.
 *  4. 1,000 live sessions (100 grants × 10) whose grants end in the same second: from each grant's end to its
 *     sessions' sockets closing (p50/p99), to the last backend gone, statements forwarded after the end (from the
 *     audit log), and the TPS of other sessions (a pgbench on another grant) before and during the cut.
 *
 *   npm run bench:gateway
 *   BENCH_SECONDS=10 BENCH_ROUNDS=3 npm run bench:gateway      # shorter
 *   BENCH_ONLY=throughput | sessions npm run bench:gateway    # sections 1 only, or 3 and 4 only
 *   BENCH_PATHS=queued,direct npm run bench:gateway           # section 1 on these paths only (e.g. to profile)
 *
 * Needs `pgbench` and `pgbouncer` on PATH (Debian: postgresql-client / postgresql-contrib, pgbouncer).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createSelfSignedCertificate } from '../src/lib/self-signed-cert.js';
import { startPhigate, type RunningPhigate } from '../src/server/start.js';
import { startEmbeddedPostgres } from '../src/store/embedded-postgres.js';
import {
  api,
  connection as connectionTo,
  fmt,
  grant as grantOf,
  median,
  need,
  pgbench as pgbenchOn,
  pgEnv,
  run,
  tpsOf,
  type Endpoint,
} from './support/bench-tools.js';
import { percentile } from './bench-db.js';
import { holdSessions } from './support/hold-sessions.js';
import { createProtectedBenchDatabase } from './support/protected-database.js';

const DATABASE = 'bench';
const pgbench = (e: Endpoint, args: string[]) => pgbenchOn(e, DATABASE, args);
const grant = (p: RunningPhigate, token: string, duration: string) =>
  grantOf(p, token, { resource: 'bench', role: 'bencher', duration });
const connection = (p: RunningPhigate, token: string, grantId: string, direct = false) =>
  connectionTo(p, token, 'bench', grantId, direct);

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const CUT_GRANTS = 100;
const SESSIONS_PER_GRANT = 10;
const RSS_SESSIONS = 500;

const POLICY = `version: 1
resources:
  bench: { kind: postgres }
approvalRules:
  auto:
    autoApprove: [{ groups: [analysts] }]
    approvers: { groups: [clinical-leads] }
roles:
  bencher:
    resource: bench
    eligibleGroups: [analysts]
    access:
      public.pgbench_accounts: { columns: [aid, abalance], operations: [SELECT] }
      public.pgbench_branches: { columns: [bid], operations: [SELECT] }
    duration: { default: 1h, max: 2h, cumulativeMax: 30d }
    purposes: [HOPERAT]
    approval: auto
    maxConnections: 50
`;

/** PgBouncer in session mode with client TLS (same certificate as the gateway), plain TCP to the database. */
async function startPgBouncer(
  dir: string,
  db: { port: number },
  user: Endpoint,
  tls: { cert: string; key: string },
) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  mkdirSync(dir, { recursive: true });
  chmodSync(path.dirname(dir), 0o711);
  const files = {
    ini: path.join(dir, 'pgbouncer.ini'),
    users: path.join(dir, 'userlist.txt'),
    cert: path.join(dir, 'bouncer.crt'),
    key: path.join(dir, 'bouncer.key'),
  };
  writeFileSync(files.cert, tls.cert);
  writeFileSync(files.key, tls.key, { mode: 0o600 });
  writeFileSync(files.users, `"${user.user}" "${user.password}"\n`, { mode: 0o600 });
  writeFileSync(
    files.ini,
    [
      '[databases]',
      `bench = host=127.0.0.1 port=${db.port} dbname=bench`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'auth_type = plain',
      `auth_file = ${files.users}`,
      'pool_mode = session',
      'max_client_conn = 200',
      'default_pool_size = 20',
      'client_tls_sslmode = require',
      `client_tls_cert_file = ${files.cert}`,
      `client_tls_key_file = ${files.key}`,
      `unix_socket_dir = ${dir}`,
      'logfile = /dev/null',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root; it then runs as the postgres user, who must read its files.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const pw = spawnSync('id', ['-u', 'postgres']).stdout.toString().trim();
    const gid = spawnSync('id', ['-g', 'postgres']).stdout.toString().trim();
    for (const f of [dir, ...Object.values(files)]) chownSync(f, Number(pw), Number(gid));
  }
  const child = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), files.ini], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: user.user,
      password: user.password,
      database: 'bench',
      ssl: { rejectUnauthorized: false },
    });
    try {
      await c.connect();
      await c.end();
      return { port, stop: () => child.kill('SIGTERM') };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error('pgbouncer did not start');
}

async function main(): Promise<void> {
  need('pgbench');
  need('pgbouncer');
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-bench-gw-'));
  const cert = createSelfSignedCertificate({ commonName: 'bench', altNames: ['localhost', '127.0.0.1'] });
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'pg'),
    tls: cert,
    maxConnections: 1400,
  });
  const cleanups: (() => unknown)[] = [() => server.stop()];
  try {
    const superuser = new URL(server.url);
    const su: Endpoint = {
      host: '127.0.0.1',
      port: server.port,
      user: superuser.username,
      password: decodeURIComponent(superuser.password),
    };
    const { adminUrl, storeUrl } = await createProtectedBenchDatabase(server.url, DATABASE, async () => {
      console.log(`initialising pgbench scale ${SCALE} …`);
      await run('pgbench', ['-i', '-q', '-s', String(SCALE)], pgEnv(su, DATABASE));
    });
    // The benchmark asks for hundreds of grants and connections as one person: lift the per-person API rate limit.
    const configPath = path.join(dir, 'phigate.yaml');
    writeFileSync(configPath, 'server: { rateLimit: { max: 1000000, window: 1m } }\n');
    const startOne = (auditWait: 'durable' | 'queued') =>
      startPhigate({
        configPath,
        port: 0,
        dev: true,
        logLevel: 'error',
        policy: { source: POLICY, sourceName: 'bench-policy.yaml' },
        env: { PHIGATE_DATABASE_URL: storeUrl, PHIGATE_DATA_DIR: path.join(dir, 'state') },
        gateway: {
          enabled: true,
          port: 0,
          maxConnections: 5000,
          // Every session comes from this one address and signs in at the same time.
          maxPreAuthPerAddress: 5000,
          auditWait,
          resources: {
            bench: {
              host: '127.0.0.1',
              port: server.port,
              database: 'bench',
              adminUrl,
              tls: { mode: 'disable' },
            },
          },
        },
      });
    // Two replicas on one store, in this process: the default gateway (records durable before a statement runs) and
    // one with `auditWait: queued`. Only one is under load at a time.
    const phigate = await startOne('durable');
    cleanups.push(() => phigate.stop());
    const queued = await startOne('queued');
    cleanups.push(() => queued.stop());
    const gw = queued.gateway!;
    const dan = await phigate.mintDevToken!('dan');
    const main = await grant(phigate, dan, '2h');
    const conn = await connection(phigate, dan, main.id, true);
    const paths: Record<string, Endpoint> = {
      direct: conn.direct!,
      gateway: {
        host: '127.0.0.1',
        port: phigate.gateway!.port,
        user: 'dan',
        password: conn.gateway.password,
      },
      queued: { host: '127.0.0.1', port: gw.port, user: 'dan', password: conn.gateway.password },
    };
    const bouncer = await startPgBouncer(path.join(dir, 'bouncer'), server, conn.direct!, {
      cert: cert.certPem,
      key: cert.keyPem,
    });
    cleanups.push(bouncer.stop);
    paths.pgbouncer = {
      host: '127.0.0.1',
      port: bouncer.port,
      user: conn.direct!.user,
      password: conn.direct!.password,
    };

    const only = process.env.BENCH_ONLY;
    console.log(
      `\n1. pgbench -S -c 10 -j 2 -T ${SECONDS}, ${ROUNDS} interleaved rounds (TLS from the client on every path)`,
    );
    for (const mode of only === 'sessions' ? [] : ['simple', 'prepared']) {
      const wanted = process.env.BENCH_PATHS?.split(',') ?? ['direct', 'gateway', 'queued', 'pgbouncer'];
      const tps: Record<string, number[]> = Object.fromEntries(wanted.map((p) => [p, []]));
      for (let r = 0; r < ROUNDS; r++) {
        const order = Object.keys(tps);
        for (let i = 0; i < r; i++) order.push(order.shift()!);
        for (const name of order) {
          const t = tpsOf(
            await pgbench(paths[name]!, ['-S', '-c', '10', '-j', '2', '-T', String(SECONDS), '-M', mode]),
          );
          tps[name]!.push(t);
          console.log(`   ${mode.padEnd(8)} round ${r + 1} ${name.padEnd(9)} ${fmt(t)} tps`);
        }
      }
      const m = Object.fromEntries(Object.entries(tps).map(([k, v]) => [k, median(v)]));
      if (Object.keys(m).length < 4) continue; // some paths only: their rounds are printed above
      console.log(
        `   ${mode}: median direct ${fmt(m.direct!)} · gateway durable ${fmt(m.gateway!)} · gateway queued ` +
          `${fmt(m.queued!)} · pgbouncer ${fmt(m.pgbouncer!)} tps → durable/direct ${fmt(m.gateway! / m.direct!, 2)}×, ` +
          `queued/direct ${fmt(m.queued! / m.direct!, 2)}×, queued/pgbouncer ${fmt(m.queued! / m.pgbouncer!, 2)}×`,
      );
    }

    if (only === 'throughput') return;
    console.log('\n2. latency at one client (pgbench -S -c 1, per-transaction log), interleaved');
    const p50s: Record<string, number[]> = { direct: [], gateway: [], queued: [] };
    for (let r = 0; r < (only === 'sessions' ? 0 : ROUNDS); r++) {
      const order = ['direct', 'gateway', 'queued'];
      for (let i = 0; i < r; i++) order.push(order.shift()!);
      for (const name of order) {
        const logDir = mkdtempSync(path.join(dir, 'lat-'));
        await pgbench(paths[name]!, [
          '-S',
          '-c',
          '1',
          '-j',
          '1',
          '-T',
          String(Math.min(SECONDS, 10)),
          '-l',
          `--log-prefix=${path.join(logDir, 'l')}`,
        ]);
        const lat = readdirSync(logDir)
          .flatMap((f) => readFileSync(path.join(logDir, f), 'utf8').trim().split('\n'))
          .map((l) => Number(l.split(' ')[2]))
          .sort((a, b) => a - b);
        p50s[name]!.push(percentile(lat, 50));
        console.log(
          `   round ${r + 1} ${name.padEnd(8)} p50 ${fmt(percentile(lat, 50))} µs, p99 ${fmt(percentile(lat, 99))} µs (${lat.length} tx)`,
        );
      }
    }
    const d = median(p50s.direct!);
    if (only !== 'sessions')
      console.log(
        `   median p50: direct ${fmt(d)} µs; gateway durable ${fmt(median(p50s.gateway!))} µs (+${fmt(median(p50s.gateway!) - d)}); ` +
          `gateway queued ${fmt(median(p50s.queued!))} µs (+${fmt(median(p50s.queued!) - d)})`,
      );

    console.log(
      `\n3. memory with ${RSS_SESSIONS} connected gateway sessions (phigate — both replicas — runs in this process)`,
    );
    const before = process.memoryUsage().rss;
    const rssGrants = await Promise.all(
      Array.from({ length: RSS_SESSIONS / SESSIONS_PER_GRANT }, () => grant(phigate, dan, '1h')),
    );
    const rssSessions = (
      await Promise.all(rssGrants.map(async (g, i) => ({ i, c: await connection(phigate, dan, g.id) })))
    ).flatMap(({ i, c }) =>
      Array.from({ length: SESSIONS_PER_GRANT }, () => ({ grant: i, password: c.gateway.password })),
    );
    const holder = holdSessions({ host: '127.0.0.1', port: gw.port }, 'dan', rssSessions);
    await holder.ready;
    await new Promise((r) => setTimeout(r, 2_000));
    const during = process.memoryUsage().rss;
    console.log(
      `   RSS ${fmt(before / 2 ** 20)} MB before, ${fmt(during / 2 ** 20)} MB with ${gw.sessions} sessions`,
    );
    holder.stop();
    for (const g of rssGrants)
      await api(phigate, dan, 'POST', `/v1/grants/${g.id}/revoke`, { reason: 'bench' });

    console.log(
      `\n4. ${CUT_GRANTS * SESSIONS_PER_GRANT} live sessions (${CUT_GRANTS} grants × ${SESSIONS_PER_GRANT}) whose grants end in the same second`,
    );
    // Time to connect a thousand sessions (TLS, token, SCRAM upstream, a durable session.open each) before the end.
    const endAt = Math.ceil((Date.now() + 60_000) / 1000) * 1000;
    const cutGrants: { id: string; expiresAt: number }[] = [];
    for (let i = 0; i < CUT_GRANTS; i++)
      cutGrants.push(await grant(phigate, dan, `${Math.round((endAt - Date.now()) / 1000)}s`));
    const spread =
      Math.max(...cutGrants.map((g) => g.expiresAt)) - Math.min(...cutGrants.map((g) => g.expiresAt));
    const cutSessions = (
      await Promise.all(cutGrants.map(async (g, i) => ({ i, c: await connection(phigate, dan, g.id) })))
    ).flatMap(({ i, c }) =>
      Array.from({ length: SESSIONS_PER_GRANT }, () => ({ grant: i, password: c.gateway.password })),
    );
    const others = grant(phigate, dan, '1h').then((g) => connection(phigate, dan, g.id));
    const other = await others;
    const cut = holdSessions({ host: '127.0.0.1', port: gw.port }, 'dan', cutSessions);
    await cut.ready;
    console.log(
      `   ${gw.sessions} sessions connected ${fmt((endAt - Date.now()) / 1000, 1)} s before the grants end`,
    );
    const until = Math.max(...cutGrants.map((g) => g.expiresAt));
    const runFor = Math.max(6, Math.ceil((until - Date.now()) / 1000) + 4);
    const progress = pgbench(
      { host: '127.0.0.1', port: gw.port, user: 'dan', password: other.gateway.password },
      ['-S', '-c', '4', '-j', '1', '-T', String(runFor), '-P', '1'],
    );
    const progressStart = Date.now();
    await cut.done;
    const closedAll = Date.now();
    let backendsGoneAt = NaN;
    const probe = new pg.Client({ connectionString: server.url });
    await probe.connect();
    for (;;) {
      const r = await probe.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where usename = any($1)`,
        [cutGrants.map((g) => `phigate_g_${g.id.replaceAll('-', '')}`)],
      );
      if (r.rows[0]!.n === 0) {
        backendsGoneAt = Date.now();
        break;
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    await probe.end();
    const delays = cut.closed.map((c) => c.closedAt - cutGrants[c.grant]!.expiresAt).sort((a, b) => a - b);
    console.log(
      `   grants' ends spread over ${spread} ms; socket closed after the grant's end: p50 ${fmt(percentile(delays, 50))} ms, ` +
        `p99 ${fmt(percentile(delays, 99))} ms, max ${fmt(delays[delays.length - 1]!)} ms (${delays.length} sessions)`,
    );
    console.log(
      `   last backend gone ${fmt(backendsGoneAt - until)} ms after the last grant's end (all sockets closed at +${fmt(closedAll - until)} ms)`,
    );
    // Statements queued before and after each grant's end (a batch record lists each with the time it was queued).
    const counted = await phigate.store.pool.query<{ total: number; late: number }>(
      `select count(*)::int as total, count(*) filter (where (st->>'at')::timestamptz >= r.expires_at)::int as late
         from audit_events e join access_requests r on r.id::text = e.request_id::text
        cross join lateral jsonb_array_elements(
          case when e.action = 'statement.batch' then e.canonical::jsonb->'detail'->'statements'
               else jsonb_build_array(jsonb_build_object('at', e.recorded_at)) end) st
        where e.action in ('statement.execute', 'statement.batch') and r.id = any($1::uuid[])`,
      [cutGrants.map((g) => g.id)],
    );
    const { total, late } = counted.rows[0]!;
    console.log(
      `   statements recorded on those grants: ${total}; recorded as sent at or after their grant's end: ${late}`,
    );
    const out = await progress;
    const ticks = [...out.matchAll(/progress: ([\d.]+) s, ([\d.]+) tps/g)].map((m) => ({
      at: progressStart + Number(m[1]) * 1000,
      tps: Number(m[2]),
    }));
    const beforeCut = ticks.filter((t) => t.at <= until - 1000).map((t) => t.tps);
    const duringCut = ticks.filter((t) => t.at > until - 1000 && t.at <= until + 2000).map((t) => t.tps);
    const base = median(beforeCut);
    console.log(
      `   other sessions (pgbench -c 4 on another grant): ${fmt(base)} tps before, ${duringCut.map((t) => fmt(t)).join(' / ')} tps in the seconds ` +
        `around the cut → min ${fmt(Math.min(...duringCut) / base, 2)}×`,
    );
  } finally {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
