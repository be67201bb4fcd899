/**
 * POST /v1/requests that auto-approves (verified token, policy decision, persisted and audited in one transaction)
 * against a bare Fastify route, side by side in one run: autocannon, 50 connections, interleaved rounds.
 * Targets (issue 2): ≥ 0.5× the bare route's requests/s, p99 ≤ 20 ms.
 * Run: npx tsx bench/control-api.ts   (PHIGATE_BENCH_DATABASE_URL to use an external PostgreSQL)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { startPhigate } from '../src/server/start.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const CONNECTIONS = 50;
const PRINCIPALS = 7;

const POLICY = `
version: 1
resources: { db: { kind: postgres } }
approvalRules:
  auto: { autoApprove: [ {} ], approvers: { groups: [nobody] } }
roles:
  bench:
    resource: db
    eligibleGroups: [support, analysts, physicians, clinical-leads, privacy-office, phigate-admins, oncall]
    duration: { default: 1m, max: 1m, cumulativeMax: 30d }
    purposes: [HOPERAT]
    approval: auto
`;

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(
  url: string,
  requests: autocannon.Request[] | undefined,
  method: 'GET' | 'POST',
): Promise<Result> {
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    method,
    ...(requests ? { requests } : {}),
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-bench-api-'));
  chmodSync(dir, 0o711);
  // The benchmark measures the API, not the rate limiter.
  writeFileSync(path.join(dir, 'phigate.yaml'), 'server:\n  rateLimit: { max: 10000000, window: 1m }\n');
  const bare = Fastify();
  bare.post('/bare', async () => ({ id: '00000000-0000-4000-8000-000000000000', status: 'active' }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/bare`;

  const phigate = await startPhigate({
    port: 0,
    dev: true,
    logLevel: 'silent',
    policy: { source: POLICY, sourceName: 'bench-policy.yaml' },
    env: {
      PHIGATE_DATA_DIR: path.join(dir, 'state'),
      ...(process.env['PHIGATE_BENCH_DATABASE_URL']
        ? { PHIGATE_DATABASE_URL: process.env['PHIGATE_BENCH_DATABASE_URL'] }
        : {}),
    },
    configPath: path.join(dir, 'phigate.yaml'),
  });
  const users = ['alice', 'dan', 'olivia', 'carol', 'chris', 'priya', 'adam'].slice(0, PRINCIPALS);
  const tokens = await Promise.all(users.map((u) => phigate.mintDevToken!(u)));
  const body = JSON.stringify({
    resource: 'db',
    role: 'bench',
    duration: '1m',
    purpose: 'HOPERAT',
    justification: 'Benchmark request',
  });
  const requests: autocannon.Request[] = tokens.map((t) => ({
    method: 'POST',
    path: '/v1/requests',
    headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
    body,
  }));

  const bareResults: Result[] = [];
  const apiResults: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bareResults.push(await load(bareUrl, undefined, 'POST'));
    apiResults.push(await load(`${phigate.url}/v1/requests`, requests, 'POST'));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const bareRps = median(bareResults.map((r) => r.rps));
  const apiRps = median(apiResults.map((r) => r.rps));
  const apiP50 = median(apiResults.map((r) => r.p50));
  const apiP99 = median(apiResults.map((r) => r.p99));
  const granted = await phigate.store.db
    .selectFrom('access_requests')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  console.log(`bare Fastify route:            ${bareRps.toFixed(0)} req/s`);
  console.log(
    `POST /v1/requests (auto):      ${apiRps.toFixed(0)} req/s  p50 ${apiP50} ms  p99 ${apiP99} ms`,
  );
  console.log(`ratio: ${(apiRps / bareRps).toFixed(3)}× (target ≥ 0.5×); p99 target ≤ 20 ms`);
  console.log(
    `non-2xx: ${apiResults.reduce((a, r) => a + r.non2xx, 0)}, errors: ${apiResults.reduce((a, r) => a + r.errors, 0)}, grants persisted: ${granted.n}`,
  );
  await phigate.stop();
  await bare.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
