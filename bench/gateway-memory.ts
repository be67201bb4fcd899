/**
 * Memory of one phigate process holding 500 gateway sessions (issue 4: ≤ 200 MB), measured as a deployment would
 * see it: `phigate serve` (the compiled CLI, built first) alone in its own process, the sessions held by another
 * process, the load's tooling in this one. RSS is read from /proc/<pid>/status before the sessions connect and while
 * they are held (each running `select 1` every second through the gateway, audited).
 *
 *   npm run bench:gateway-memory
 *   BENCH_SESSIONS=1000 npm run bench:gateway-memory
 *   BENCH_NODE_OPTIONS=--max-semi-space-size=4 npm run bench:gateway-memory   # phigate's NODE_OPTIONS
 *
 * bench/gateway.ts section 3 measures the same sessions in its own process, where both of its replicas and its
 * clients live: a ceiling, not phigate's footprint.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/store/embedded-postgres.js';
import { connection, fmt, grant } from './support/bench-tools.js';
import { holdSessions } from './support/hold-sessions.js';
import { startLocalIssuer } from './support/local-issuer.js';
import {
  createProtectedBenchDatabase,
  runSql,
  type ProtectedBenchDatabase,
} from './support/protected-database.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 500);
const SESSIONS_PER_GRANT = 10;
const AUDIENCE = 'phigate-bench';

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
      public.visits: { columns: [id, code], operations: [SELECT] }
    duration: { default: 1h, max: 2h, cumulativeMax: 30d }
    purposes: [HOPERAT]
    approval: auto
    maxConnections: 50
`;

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  if (line === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** `phigate serve` from the compiled CLI, in its own process; resolves once /readyz answers 200. */
async function serve(dir: string, storeUrl: string) {
  const apiPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      path.join(import.meta.dirname, '..', 'bin', 'phigate.js'),
      'serve',
      '--config',
      path.join(dir, 'phigate.yaml'),
      '--port',
      String(apiPort),
    ],
    {
      env: {
        ...process.env,
        PHIGATE_DATA_DIR: path.join(dir, 'state'),
        PHIGATE_DATABASE_URL: storeUrl,
        NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? '',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`phigate serve exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('phigate serve did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One `phigate serve` with `auditWait`: its RSS once warm, and at most while it holds the sessions. */
async function measure(o: {
  dir: string;
  issuer: string;
  token: string;
  auditWait: 'durable' | 'queued';
  pg: { port: number };
  db: ProtectedBenchDatabase;
}): Promise<{ before: number; during: number; sessions: number }> {
  const stops: (() => unknown)[] = [];
  try {
    const gatewayPort = await freePort();
    writeFileSync(
      path.join(o.dir, 'phigate.yaml'),
      [
        'server: { rateLimit: { max: 10000000, window: 1m } }',
        'policy: { file: policy.yaml }',
        'log: { level: warn }',
        'identity:',
        `  issuers: [{ issuer: "${o.issuer}", audience: ${AUDIENCE}, algorithms: [ES256] }]`,
        'gateway:',
        '  enabled: true',
        `  port: ${gatewayPort}`,
        '  maxConnections: 5000',
        // Every session comes from this one address and signs in at the same time.
        '  maxPreAuthPerAddress: 5000',
        `  auditWait: ${o.auditWait}`,
        '  resources:',
        '    bench:',
        `      { host: 127.0.0.1, port: ${o.pg.port}, database: bench, tls: { mode: disable },`,
        `        adminUrl: "${o.db.adminUrl}" }`,
        '',
      ].join('\n'),
    );
    const phigate = await serve(o.dir, o.db.storeUrl);
    stops.push(() => phigate.stop());

    // Warm the paths a session takes (grant, token, login, a statement, its record) before the first reading.
    const warm = await grant(phigate, o.token, { resource: 'bench', role: 'bencher', duration: '1h' });
    const warmConn = await connection(phigate, o.token, 'bench', warm.id);
    const warmHolder = holdSessions({ host: '127.0.0.1', port: gatewayPort }, 'dan', [
      { grant: 0, password: warmConn.gateway.password },
    ]);
    await warmHolder.ready;
    await new Promise((r) => setTimeout(r, 2_000));
    warmHolder.stop();
    await new Promise((r) => setTimeout(r, 2_000));

    const before = rssMb(phigate.pid);
    const grants = await Promise.all(
      Array.from({ length: Math.ceil(SESSIONS / SESSIONS_PER_GRANT) }, () =>
        grant(phigate, o.token, { resource: 'bench', role: 'bencher', duration: '1h' }),
      ),
    );
    const sessions = (
      await Promise.all(
        grants.map(async (g, i) => ({ i, c: await connection(phigate, o.token, 'bench', g.id) })),
      )
    )
      .flatMap(({ i, c }) =>
        Array.from({ length: SESSIONS_PER_GRANT }, () => ({ grant: i, password: c.gateway.password })),
      )
      .slice(0, SESSIONS);
    const holder = holdSessions({ host: '127.0.0.1', port: gatewayPort }, 'dan', sessions);
    stops.push(() => holder.stop());
    await holder.ready;
    // A few seconds of the sessions' statements (and their records) at steady state.
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      samples.push(rssMb(phigate.pid));
    }
    return { before, during: Math.max(...samples), sessions: sessions.length };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-bench-mem-'));
  chmodSync(dir, 0o711);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'pg'),
    maxConnections: SESSIONS + 200,
  });
  const stops: (() => unknown)[] = [() => server.stop()];
  try {
    // SYNTHETIC rows: the sessions only need something to be granted.
    const protectedDb = await createProtectedBenchDatabase(server.url, 'bench', (url) =>
      runSql(
        url,
        `create table visits (id int primary key, code text);
         insert into visits select g, 'SYN-' || g from generate_series(1, 100) g`,
      ),
    );

    // A local OIDC issuer (discovery + JWKS over HTTP) for the benchmark's one analyst.
    const idp = await startLocalIssuer(AUDIENCE);
    stops.push(() => idp.close());
    const issuer = idp.issuer;
    const token = await idp.token('dan', ['analysts'], 'Synthetic Analyst');

    writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
    console.log(
      `phigate serve in its own process, ${SESSIONS} gateway sessions (TLS, select 1/s each); target ≤ 200 MB`,
    );
    for (const auditWait of ['durable', 'queued'] as const) {
      const r = await measure({ dir, issuer, token, auditWait, pg: server, db: protectedDb });
      console.log(
        `   ${auditWait.padEnd(7)} audit (${auditWait === 'durable' ? 'the default' : 'gateway.auditWait: queued'}): ` +
          `RSS ${fmt(r.before)} MB before, ${fmt(r.during)} MB with ${r.sessions} sessions ` +
          `(max of 10 one-second samples), +${fmt(((r.during - r.before) * 1024) / r.sessions)} KB per session`,
      );
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
