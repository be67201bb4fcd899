/**
 * POST /v1/requests that auto-approves, each server in its own process (verified token, policy decision, persisted and audited in one transaction)
 * against a bare Fastify route, side by side in one run: autocannon, 50 connections, interleaved rounds.
 * Targets (issue 2): ≥ 0.5× the bare route's requests/s, p99 ≤ 20 ms.
 * Run: npx tsx bench/control-api.ts   (PHIGATE_BENCH_DATABASE_URL to use an external PostgreSQL)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { startLocalIssuer, type LocalIssuer } from './support/local-issuer.js';
import { startServer } from './support/server-process.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
/** Distinct people: one person's back-to-back requests serialise on their chain (cumulative maximum) by design. */
const PRINCIPALS = 1000;
const AUDIENCE = 'phigate-bench';

const POLICY = `
version: 1
resources: { db: { kind: postgres } }
approvalRules:
  auto: { autoApprove: [ { groups: [support] } ], approvers: { groups: [nobody] } }
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
  // A local OIDC issuer (discovery + JWKS over HTTP) whose tokens name many distinct people.
  const idp = await startLocalIssuer(AUDIENCE);
  const issuer = idp.issuer;
  // The benchmark measures the API, not the rate limiter.
  writeFileSync(
    path.join(dir, 'phigate.yaml'),
    [
      'server:',
      '  rateLimit: { max: 10000000, window: 1m }',
      'identity:',
      '  issuers:',
      `    - { issuer: "${issuer}", audience: ${AUDIENCE}, algorithms: [ES256] }`,
      '',
    ].join('\n'),
  );

  writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
  const servers: { stop(): Promise<void> }[] = [];
  try {
    await measure(dir, idp, servers);
  } finally {
    // Children would outlive a failed run otherwise.
    await Promise.all(servers.map((s) => s.stop()));
    idp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(dir: string, idp: LocalIssuer, servers: { stop(): Promise<void> }[]): Promise<void> {
  const bare = await startServer(['bare']);
  servers.push(bare);
  const phigate = await startServer(
    ['phigate', path.join(dir, 'phigate.yaml'), path.join(dir, 'policy.yaml')],
    {
      PHIGATE_DATA_DIR: path.join(dir, 'state'),
      ...(process.env['PHIGATE_BENCH_DATABASE_URL']
        ? { PHIGATE_DATABASE_URL: process.env['PHIGATE_BENCH_DATABASE_URL'] }
        : {}),
    },
  );
  servers.push(phigate);
  const tokens = await Promise.all(
    Array.from({ length: PRINCIPALS }, (_, i) =>
      idp.token(`person-${i}`, ['support'], `Synthetic Person ${i}`),
    ),
  );
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

  // The API layer alone (token verification, rate limit, routing, JSON) without the store: where the time goes.
  const whoami: autocannon.Request[] = tokens.map((t) => ({
    method: 'GET',
    path: '/v1/whoami',
    headers: { authorization: `Bearer ${t}` },
  }));

  const bareResults: Result[] = [];
  const authResults: Result[] = [];
  const apiResults: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bareResults.push(await load(bare.url, undefined, 'POST'));
    authResults.push(await load(`${phigate.url}/v1/whoami`, whoami, 'GET'));
    apiResults.push(await load(`${phigate.url}/v1/requests`, requests, 'POST'));
  }
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
  };
  const authRps = median(authResults.map((r) => r.rps));
  const bareRps = median(bareResults.map((r) => r.rps));
  const apiRps = median(apiResults.map((r) => r.rps));
  const apiP50 = median(apiResults.map((r) => r.p50));
  const apiP99 = median(apiResults.map((r) => r.p99));
  console.log(`bare Fastify route:            ${bareRps.toFixed(0)} req/s`);
  console.log(
    `GET /v1/whoami (no store):     ${authRps.toFixed(0)} req/s  p99 ${median(authResults.map((r) => r.p99))} ms`,
  );
  console.log(
    `POST /v1/requests (auto):      ${apiRps.toFixed(0)} req/s  p50 ${apiP50} ms  p99 ${apiP99} ms`,
  );
  console.log(`ratio: ${(apiRps / bareRps).toFixed(3)}× (target ≥ 0.5×); p99 target ≤ 20 ms`);
  console.log(
    `non-2xx: ${[...authResults, ...apiResults].reduce((a, r) => a + r.non2xx, 0)}, errors: ${[...authResults, ...apiResults].reduce((a, r) => a + r.errors, 0)}`,
  );
}

await main();
