/**
 * Requests the API refuses for their form — bodies too large, not JSON, off the schema, under another media type,
 * broken URLs, a route's own input checks — leave an audit record (`api.reject`), so that an auditor sees probing:
 * who (once authenticated), from which address, on which route, refused why. A flood is bounded per address and
 * minute, and what was left out is counted, even when the flood stops with the server. Real server, real sockets,
 * real tokens from the development issuer, real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import type { Db } from '../store/database.js';
import type { RunningPhigate } from './start.js';

const POLICY = `
version: 1
resources: { clinic-db: { kind: postgres } }
approvalRules:
  one-lead: { approvers: { groups: [clinical-leads], count: 1 } }
roles:
  analyst:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h }
    purposes: [HOPERAT]
    patientScope: optional
    approval: one-lead
`;

const ask = {
  resource: 'clinic-db',
  role: 'analyst',
  purpose: 'HOPERAT',
  justification: 'Quality review of encounter 42',
};

interface Rejection {
  reasonCode: string;
  who: { actor: string };
  how: { clientAddress: string };
  detail: Record<string, unknown>;
}

async function rejections(db: Db, clientAddress: string): Promise<Rejection[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select('canonical')
    .where('action', '=', 'api.reject')
    .orderBy('seq')
    .execute();
  return rows
    .map((r) => JSON.parse(r.canonical) as Rejection)
    .filter((r) => r.how.clientAddress === clientAddress);
}

describe('API refusals are audited (bounded per address and minute)', () => {
  let server: TestPhigate;
  let phigate: RunningPhigate;
  let danId: string;
  const tokens: Record<string, string> = {};

  /** One HTTP request from a loopback address of the test's choosing: each test is its own client. */
  const send = (
    localAddress: string,
    method: string,
    path: string,
    options: { user?: string; body?: string; type?: string } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (options.user) headers['authorization'] = `Bearer ${tokens[options.user]}`;
      if (options.body !== undefined) {
        headers['content-type'] = options.type ?? 'application/json';
        headers['content-length'] = String(Buffer.byteLength(options.body));
      }
      const req = httpRequest(`${phigate.url}${path}`, { method, localAddress, headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      });
      // The server may answer 413 and close before a large body is sent in full.
      req.on('error', (err: NodeJS.ErrnoException) =>
        err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err),
      );
      req.end(options.body);
    });

  before(async () => {
    server = await startTestPhigate({
      // High enough that the flood below is refused for its bodies, not rate-limited.
      config: 'server:\n  rateLimit: { max: 1000, window: 1m }\n',
      policy: { source: POLICY, sourceName: 'api-refusals-policy.yaml' },
    });
    phigate = server.phigate;
    for (const user of ['dan', 'carol']) tokens[user] = await phigate.mintDevToken!(user);
    danId = String((await send('127.0.0.1', 'GET', '/v1/whoami', { user: 'dan' })).body['id']);
  });
  after(() => server.stop());

  it('records each kind of malformed request, with who, route and reason, and nothing of the body', async () => {
    const from = '127.0.0.21';
    const cases: [string, string, { user?: string; body?: string; type?: string }, number, string][] = [
      ['POST', '/v1/requests', { user: 'dan', body: '{"resource": ' }, 400, 'request.malformed-json'],
      [
        'POST',
        '/v1/requests',
        { user: 'dan', body: JSON.stringify({ ...ask, status: 'active' }) },
        400,
        'request.invalid',
      ],
      [
        'POST',
        '/v1/requests',
        { user: 'dan', body: '<request/>', type: 'application/xml' },
        415,
        'request.unsupported-media-type',
      ],
      ['GET', '/v1/requests?status=granted-by-me', { user: 'dan' }, 400, 'request.invalid'],
      ['GET', '/v1/requests/%ff', {}, 400, 'request.bad-url'],
    ];
    for (const [method, path, options, status, code] of cases) {
      const answer = await send(from, method, path, options);
      assert.equal(answer.status, status, path);
      assert.equal(answer.body['code'], code, path);
    }
    const records = await rejections(phigate.store.db, from);
    assert.deepEqual(
      records.map((r) => [r.reasonCode, r.detail['status'], r.who.actor]),
      cases.map(([, , options, status, code]) => [code, status, options.user ? danId : 'anonymous']),
    );
    assert.equal(records[0]!.detail['route'], '/v1/requests');
    assert.equal(records[0]!.detail['method'], 'POST');
    assert.doesNotMatch(JSON.stringify(records), /granted-by-me|<request|"active"/, 'no input is kept');

    // A refusal a service makes is recorded once, by the service, not again here.
    const denied = await send(from, 'POST', '/v1/requests', {
      user: 'carol',
      body: JSON.stringify(ask),
    });
    assert.equal(denied.status, 403);
    assert.equal((await rejections(phigate.store.db, from)).length, cases.length);
  });

  it('bounds a flood of oversized bodies to 30 records a minute and counts the rest, when the server stops', async () => {
    const from = '127.0.0.22';
    const huge = JSON.stringify({ ...ask, justification: 'x'.repeat(70_000) });
    for (let i = 0; i < 100; i++) {
      const answer = await send(from, 'POST', '/v1/requests', { user: 'dan', body: huge });
      assert.equal(answer.status, 413);
      assert.equal(answer.body['code'], 'request.too-large');
    }
    const during = await rejections(phigate.store.db, from);
    assert.equal(during.length, 30);
    assert.ok(during.every((r) => r.reasonCode === 'request.too-large' && r.who.actor === danId));

    // The flood stops with the server: the count of what was left out is written as it stops.
    await phigate.stop();
    const replica = await server.startReplica();
    try {
      const after = await rejections(replica.store.db, from);
      assert.equal(after.length, 31);
      const summary = after[30]!;
      assert.equal(summary.reasonCode, 'request.too-large');
      assert.equal(summary.who.actor, danId);
      assert.equal(summary.detail['count'], 70);
      assert.equal(summary.detail['route'], '/v1/requests');
    } finally {
      await replica.stop();
    }
  });
});
