/**
 * buildApp on its own, wired by hand (not through start.ts), and what callers see when the store goes away under
 * it: problem details that fail closed, never a driver's message. The store outage is real: the database is dropped
 * from under the running app.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { createAccessService } from '../access/access-service.js';
import { createGrantEventBus, type GrantEventBusHandle } from '../access/event-bus.js';
import { createPolicyRegistry } from '../access/policy-registry.js';
import { createDevIssuer } from '../identity/dev-issuer.js';
import { createTokenVerifier } from '../identity/token-verifier.js';
import { systemClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { createTestDatabase, primaryTarget, type TestDatabase } from '../../test/support/database.js';
import { testPseudonymizer } from '../../test/support/helpers.js';
import { buildApp } from './app.js';

const POLICY = `
version: 1
resources: { clinic-db: { kind: postgres } }
approvalRules:
  one-lead: { approvers: { groups: [clinical-leads] } }
roles:
  analyst:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h }
    purposes: [HOPERAT]
    approval: one-lead
`;

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });

describe('HTTP API when the store fails', () => {
  let database: TestDatabase;
  let bus: GrantEventBusHandle;
  let app: FastifyInstance;
  let url: string;
  let dir: string;
  let token: string;
  const logLines: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'phigate-outage-'));
    chmodSync(dir, 0o711);
    const logger = createLogger(
      'error',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    );
    database = await createTestDatabase();
    const policies = createPolicyRegistry({ db: database.db, logger });
    assert.ok((await policies.load(POLICY, 'outage-policy.yaml')).ok);
    bus = createGrantEventBus({ pool: database.pool, replicaId: randomUUID(), logger });
    await bus.ready();
    const access = createAccessService({
      db: database.db,
      policies,
      clock: systemClock,
      bus,
      logger,
      pseudonymizer: testPseudonymizer,
    });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const dev = await createDevIssuer({ baseUrl: url, dataDir: dir, audience: 'phigate', logger });
    app = await buildApp({
      access,
      verifier: createTokenVerifier({ issuers: [dev.issuerConfig], logger }),
      logger,
      bodyLimitBytes: 64 * 1024,
      rateLimit: { max: 1000, windowMs: 60_000 },
      ready: () =>
        sql`select 1`.execute(database.db).then(
          () => true,
          () => false,
        ),
      authInfo: { issuer: dev.issuer, audience: 'phigate', cliClientId: dev.issuerConfig.cliClientId },
      devIssuer: { plugin: dev.plugin, prefix: dev.prefix },
      publicUrl: url,
    });
    await app.listen({ host: '127.0.0.1', port });
    token = await dev.mintToken('dan');
  });

  after(async () => {
    await app.close();
    await bus.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  };

  it('serves, with dates as ISO 8601 text, then answers 503 while the store is down, without leaking the cause', async () => {
    const created = await call('POST', '/v1/requests', {
      resource: 'clinic-db',
      role: 'analyst',
      purpose: 'HOPERAT',
      justification: 'Quality review of encounter 42',
    });
    assert.equal(created.status, 201);
    const view = created.body as { id: string; createdAt: string; pendingUntil: string };
    assert.match(view.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(new Date(view.createdAt).toISOString(), view.createdAt);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);

    // The outage: the database disappears, connections and all.
    const adminClient = new pg.Client({ connectionString: primaryTarget().adminUrl });
    await adminClient.connect();
    try {
      await adminClient.query(`drop database ${database.name} with (force)`);
    } finally {
      await adminClient.end();
    }

    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503, 'not ready while the store does not answer');

    for (const [method, route, body] of [
      ['GET', `/v1/requests/${view.id}`, undefined],
      ['GET', '/v1/requests', undefined],
      ['POST', `/v1/requests/${view.id}/cancel`, {}],
    ] as const) {
      const answer = await call(method, route, body);
      assert.equal(answer.status, 503, `${method} ${route}`);
      assert.equal(answer.type, 'application/problem+json; charset=utf-8');
      const p = answer.body as Record<string, unknown>;
      for (const key of ['type', 'title', 'status', 'detail', 'code']) assert.ok(key in p, key);
      assert.equal(p['status'], 503);
      assert.equal(p['code'], 'store.unavailable');
      assert.doesNotMatch(
        JSON.stringify(p),
        /database|phigate_t_|terminat|ECONN|stack|at .*\.ts/i,
        `${method} ${route} leaks its cause`,
      );
    }
    assert.ok(
      logLines.some((l) => /store is unavailable|nothing was changed/.test(l)),
      'the cause is logged for operators',
    );
  });
});
