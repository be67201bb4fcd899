/**
 * The HTTP API on real sockets, with the real services on real PostgreSQL and real tokens from the development
 * issuer — ATTACKS.md "API and authentication" items 8–11 and 39, and the approval items that reach HTTP.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import type { RunningPhigate } from './start.js';

const POLICY = `
version: 1
auditors: { groups: [privacy-office] }
administrators: { groups: [phigate-admins] }
resources: { clinic-db: { kind: postgres } }
approvalRules:
  one-lead: { approvers: { groups: [clinical-leads], count: 1, requireMfa: true } }
  auto: { autoApprove: [ { groups: [support] } ], approvers: { groups: [clinical-leads] } }
roles:
  analyst:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h, cumulativeMax: 100h }
    purposes: [HOPERAT]
    patientScope: optional
    approval: one-lead
  support:
    resource: clinic-db
    eligibleGroups: [support]
    duration: { default: 10m, max: 1h, cumulativeMax: 100h }
    purposes: [HOPERAT]
    approval: auto
`;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('HTTP API', () => {
  let server: TestPhigate;
  let phigate: RunningPhigate;
  const tokens: Record<string, string> = {};

  const call = async (
    who: string | undefined,
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> => {
    const res = await fetch(`${phigate.url}${url}`, {
      method,
      headers: {
        ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text },
    };
  };

  /** From another loopback source address: the server sees a different client (per-address limits). */
  const fromAddress = (localAddress: string, url: string, authorization: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(`${phigate.url}${url}`, { localAddress, headers: { authorization } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(res.headers as Record<string, string>),
            body: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      });
      req.on('error', reject);
      req.end();
    });

  const analystRequest = {
    resource: 'clinic-db',
    role: 'analyst',
    duration: '30m',
    purpose: 'HOPERAT',
    justification: 'Quality review of encounter 42',
  };

  before(async () => {
    server = await startTestPhigate({
      config: 'server:\n  rateLimit: { max: 60, window: 1m }\n',
      policy: { source: POLICY, sourceName: 'api-test-policy.yaml' },
    });
    phigate = server.phigate;
    for (const user of ['alice', 'dan', 'carol', 'chris', 'priya', 'adam', 'olivia']) {
      tokens[user] = await phigate.mintDevToken!(user);
    }
  });
  after(() => server.stop());

  describe('authentication', () => {
    it('answers 401 problem details with a stable code and a WWW-Authenticate challenge', async () => {
      const missing = await call(undefined, 'GET', '/v1/requests');
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(missing.body['code'], 'token.missing');
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer /);
      for (const key of ['type', 'title', 'status', 'detail', 'code']) assert.ok(key in missing.body, key);

      const garbage = await call(undefined, 'GET', '/v1/requests', undefined, {
        authorization: 'Bearer not-a-jwt',
      });
      assert.equal(garbage.status, 401);
      assert.match(String(garbage.body['code']), /^token\./);
      const basic = await call(undefined, 'GET', '/v1/requests', undefined, { authorization: 'Basic YTpi' });
      assert.equal(basic.body['code'], 'token.malformed');

      const [header, payload, signature] = tokens['dan']!.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...claims, groups: ['phigate-admins'] })).toString(
        'base64url',
      );
      const tampered = await call(undefined, 'GET', '/v1/whoami', undefined, {
        authorization: `Bearer ${header}.${forged}.${signature}`,
      });
      assert.equal(tampered.status, 401);
      assert.equal(tampered.body['code'], 'token.bad-signature');

      const { privateKey } = await generateKeyPair('ES256');
      const stranger = await new SignJWT({ groups: ['phigate-admins'] })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
        .setIssuer('https://idp.invalid')
        .setAudience('phigate')
        .setSubject('mallory')
        .setExpirationTime('5m')
        .sign(privateKey);
      const unknown = await call(undefined, 'GET', '/v1/whoami', undefined, {
        authorization: `Bearer ${stranger}`,
      });
      assert.equal(unknown.body['code'], 'token.unknown-issuer');
      for (const answer of [missing, garbage, tampered, unknown]) {
        assert.doesNotMatch(JSON.stringify(answer.body), /eyJ/, 'no token is echoed back');
      }

      const audited = await phigate.store.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'reason_code'])
        .where('action', '=', 'auth.reject')
        .execute();
      const reasons = audited.map((a) => a.reason_code);
      assert.ok(reasons.includes('token.missing') && reasons.includes('token.malformed'), reasons.join());
      assert.ok(audited.every((a) => a.outcome === 'refused'));
    });

    it('keeps health, readiness, metrics, OpenAPI and login settings public', async () => {
      assert.equal((await call(undefined, 'GET', '/healthz')).status, 200);
      assert.equal((await call(undefined, 'GET', '/readyz')).status, 200);
      const auth = await call(undefined, 'GET', '/v1/auth/config');
      assert.equal(auth.body['devIssuer'], true);
      assert.match(String(auth.body['issuer']), /\/dev-oidc$/);
      await call('adam', 'GET', '/v1/roles');
      const metrics = await (await fetch(`${phigate.url}/metrics`)).text();
      assert.match(
        metrics,
        /phigate_http_requests_total\{method="GET",route="\/v1\/roles",status="200"\} [1-9]/,
      );
      assert.match(
        metrics,
        /phigate_http_request_duration_seconds_count\{method="GET",route="\/v1\/roles",status="200"\}/,
      );
      const docs = await fetch(`${phigate.url}/docs/`);
      assert.equal(docs.status, 200);
      assert.doesNotMatch(
        await docs.text(),
        /https?:\/\/(unpkg|cdn)/,
        'the docs page loads nothing from a CDN',
      );
    });

    it('publishes an OpenAPI 3 document listing every route', async () => {
      const doc = (await call(undefined, 'GET', '/openapi.json')).body as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      assert.match(doc.openapi, /^3\./);
      for (const p of [
        '/v1/requests',
        '/v1/requests/{id}',
        '/v1/requests/{id}/approve',
        '/v1/requests/{id}/deny',
        '/v1/requests/{id}/cancel',
        '/v1/grants',
        '/v1/grants/{id}/revoke',
        '/v1/grants/{id}/review',
        '/v1/roles',
        '/v1/whoami',
        '/v1/auth/config',
        '/healthz',
        '/readyz',
      ]) {
        assert.ok(p in doc.paths, `missing ${p}`);
      }
      const full = doc as unknown as {
        components: { securitySchemes: Record<string, { type: string; scheme: string }> };
        security: Record<string, unknown>[];
        paths: Record<string, Record<string, { security?: unknown[] }>>;
      };
      assert.deepEqual(full.components.securitySchemes['bearer'], {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
      });
      assert.deepEqual(full.security, [{ bearer: [] }]);
      assert.deepEqual(full.paths['/healthz']?.['get']?.security, [], 'public routes need no token');
      const responses = (doc.paths['/v1/requests'] as Record<string, { responses: Record<string, unknown> }>)[
        'post'
      ]!.responses;
      for (const status of ['201', '200', '400', '401', '403', '404', '409', '413', '415', '429', '503'])
        assert.ok(status in responses, `POST /v1/requests documents ${status}`);
      assert.equal(full.paths['/v1/requests']?.['post']?.security, undefined, 'the rest inherit bearer');
    });
  });

  describe('the request lifecycle over HTTP', () => {
    it('request → self-approval refused → approval by a lead → active → revoked by the grantee', async () => {
      const created = await call('dan', 'POST', '/v1/requests', analystRequest);
      assert.equal(created.status, 201);
      assert.equal(created.body['status'], 'pending');
      const id = String(created.body['id']);

      const self = await call('dan', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(self.status, 403);
      assert.equal(self.body['code'], 'approval.self');

      const approved = await call('carol', 'POST', `/v1/requests/${id}/approve`, { comment: 'ok' });
      assert.equal(approved.status, 200);
      assert.equal(approved.body['status'], 'active');

      const replay = await call('chris', 'POST', `/v1/requests/${id}/approve`, {});
      assert.equal(replay.status, 409, 'a second approval of a closed request is refused (ATTACKS 21)');

      const read = await call('dan', 'GET', `/v1/requests/${id}`);
      assert.equal(read.headers.get('cache-control'), 'no-store', 'no copy of an answer is kept on the way');
      assert.equal(read.headers.get('x-content-type-options'), 'nosniff');

      const grants = await call('dan', 'GET', '/v1/grants?status=active');
      assert.ok((grants.body['items'] as { id: string }[]).some((g) => g.id === id));

      const revoked = await call('dan', 'POST', `/v1/grants/${id}/revoke`, { reason: 'done early' });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body['status'], 'revoked');
    });

    it('auto-approves where the policy says so and lists the caller’s roles', async () => {
      const roles = await call('alice', 'GET', '/v1/roles');
      assert.deepEqual(
        (roles.body['items'] as { name: string }[]).map((r) => r.name),
        ['support'],
      );
      const created = await call('alice', 'POST', '/v1/requests', {
        ...analystRequest,
        role: 'support',
        duration: '5m',
      });
      assert.equal(created.status, 201);
      assert.equal(created.body['status'], 'active');
    });

    it('shows the caller as phigate sees them', async () => {
      const me = await call('carol', 'GET', '/v1/whoami');
      assert.equal(me.status, 200);
      assert.match(String(me.body['id']), /#carol$/);
      assert.equal(typeof me.body['displayName'], 'string');
      assert.deepEqual(me.body['groups'], ['clinical-leads']);
      assert.equal(me.body['mfa'], true);
      assert.equal((await call('dan', 'GET', '/v1/whoami')).body['mfa'], false);
    });

    it('cancels one’s own pending request, and denies without a body', async () => {
      const first = String((await call('dan', 'POST', '/v1/requests', analystRequest)).body['id']);
      const cancelled = await call('dan', 'POST', `/v1/requests/${first}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body['status'], 'cancelled');
      assert.equal((await call('dan', 'POST', `/v1/requests/${first}/cancel`)).status, 409);

      const second = String((await call('dan', 'POST', '/v1/requests', analystRequest)).body['id']);
      const denied = await call('chris', 'POST', `/v1/requests/${second}/deny`);
      assert.equal(denied.status, 200);
      assert.equal(denied.body['status'], 'denied');
      const mine = await call('dan', 'GET', '/v1/requests?status=cancelled,denied&limit=200');
      const ids = (mine.body['items'] as { id: string }[]).map((r) => r.id);
      assert.ok(ids.includes(first) && ids.includes(second));
    });

    it('replays an Idempotency-Key and refuses its reuse for another body', async () => {
      const key = { 'idempotency-key': 'retry-7f3a' };
      const first = await call('dan', 'POST', '/v1/requests', analystRequest, key);
      const second = await call('dan', 'POST', '/v1/requests', analystRequest, key);
      assert.equal(first.status, 201);
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('idempotency-replayed'), 'true');
      assert.equal(second.body['id'], first.body['id']);
      const other = await call('dan', 'POST', '/v1/requests', { ...analystRequest, duration: '45m' }, key);
      assert.equal(other.status, 409);
      const bad = await call('dan', 'POST', '/v1/requests', analystRequest, {
        'idempotency-key': 'has space',
      });
      assert.equal(bad.status, 400);
    });

    it('lets approve and deny race: exactly one outcome (ATTACKS 15)', async () => {
      const created = await call('dan', 'POST', '/v1/requests', analystRequest);
      const id = String(created.body['id']);
      const [a, d] = await Promise.all([
        call('carol', 'POST', `/v1/requests/${id}/approve`, {}),
        call('chris', 'POST', `/v1/requests/${id}/deny`, {}),
      ]);
      assert.deepEqual([a.status, d.status].sort(), [200, 409]);
      const final = await call('dan', 'GET', `/v1/requests/${id}`);
      assert.equal(final.body['status'], a.status === 200 ? 'active' : 'denied');
    });
  });

  describe('scope: other people’s ids answer 404, not 403 (ATTACKS 8, 10)', () => {
    it('hides a request from people who may not see it, and from malformed or made-up ids', async () => {
      const created = await call('dan', 'POST', '/v1/requests', analystRequest);
      const id = String(created.body['id']);
      for (const [who, method, url] of [
        ['alice', 'GET', `/v1/requests/${id}`],
        ['alice', 'POST', `/v1/requests/${id}/approve`],
        ['alice', 'POST', `/v1/requests/${id}/cancel`],
        ['alice', 'POST', `/v1/grants/${id}/revoke`],
        ['dan', 'GET', '/v1/requests/00000000-0000-4000-8000-000000000000'],
        ['dan', 'GET', "/v1/requests/1'%20OR%20'1'='1"],
        ['dan', 'GET', '/v1/requests/%00'],
        ['dan', 'POST', '/v1/grants/bad%00id/revoke'],
      ] as const) {
        const answer = await call(who, method, url, method === 'POST' ? {} : undefined);
        assert.equal(answer.status, 404, `${who} ${method} ${url}`);
      }
      assert.equal((await call('carol', 'GET', `/v1/requests/${id}`)).status, 200, 'an approver sees it');
      assert.equal((await call('priya', 'GET', `/v1/requests/${id}`)).status, 200, 'an auditor sees it');
      const all = await call('priya', 'GET', '/v1/requests?scope=all');
      assert.equal(all.status, 200);
      const notAuditor = await call('dan', 'GET', '/v1/requests?scope=all');
      assert.ok(notAuditor.status === 403 || notAuditor.status === 404, `got ${notAuditor.status}`);
    });
  });

  describe('bad input changes nothing (ATTACKS 9, 11)', () => {
    it('refuses mass assignment of phigate-owned fields', async () => {
      for (const field of ['status', 'approvedBy', 'expiresAt', 'requester', 'id', 'emergency']) {
        const answer = await call('dan', 'POST', '/v1/requests', { ...analystRequest, [field]: 'active' });
        assert.equal(answer.status, 400, field);
        assert.equal(answer.body['code'], 'request.invalid');
        assert.match(String(answer.body['detail']), new RegExp(field));
      }
    });

    it('refuses oversized bodies, huge patient lists, deep nesting, bad JSON and other media types', async () => {
      const before = await call('dan', 'GET', '/v1/requests?limit=200');
      const huge = await call('dan', 'POST', '/v1/requests', {
        ...analystRequest,
        justification: 'x'.repeat(70_000),
      });
      assert.equal(huge.status, 413);
      assert.equal(huge.body['code'], 'request.too-large');
      // Under the body limit but over the field's cap: refused naming the field (ATTACKS 16, length-capped).
      const long = await call('dan', 'POST', '/v1/requests', {
        ...analystRequest,
        justification: 'x'.repeat(10_001),
      });
      assert.equal(long.status, 400);
      assert.equal(long.body['field'], 'body/justification');
      const patients = Array.from({ length: 501 }, (_, i) => `MRN-${i}`);
      assert.equal(
        (await call('dan', 'POST', '/v1/requests', { ...analystRequest, patientIds: patients })).status,
        400,
      );
      const deep = `{"resource":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      assert.equal((await call('dan', 'POST', '/v1/requests', deep)).status, 400);
      assert.equal((await call('dan', 'POST', '/v1/requests', '{"resource": ')).status, 400);
      const xml = await call('dan', 'POST', '/v1/requests', '<request/>', {
        'content-type': 'application/xml',
      });
      assert.equal(xml.status, 415);
      const text = await call('dan', 'POST', '/v1/requests', JSON.stringify(analystRequest), {
        'content-type': 'text/plain',
      });
      assert.equal(text.status, 415, 'a JSON body under another media type is refused too');
      const nul = await call('dan', 'POST', '/v1/requests', { ...analystRequest, role: 'analyst\u0000' });
      assert.equal(nul.status, 400);
      assert.equal(nul.body['field'], 'body/role');
      const after = await call('dan', 'GET', '/v1/requests?limit=200');
      assert.equal((after.body['items'] as unknown[]).length, (before.body['items'] as unknown[]).length);
    });

    it('refuses fields on bodiless actions and answers broken URLs with problem details', async () => {
      const id = String((await call('dan', 'POST', '/v1/requests', analystRequest)).body['id']);
      const sneaky = await call('dan', 'POST', `/v1/requests/${id}/cancel`, { status: 'active' });
      assert.equal(sneaky.status, 400);
      assert.equal(sneaky.body['field'], 'body/status');
      const badEncoding = await call('dan', 'GET', '/v1/requests/%ff');
      assert.equal(badEncoding.status, 400);
      assert.equal(badEncoding.body['code'], 'request.bad-url');
      const longId = await call('dan', 'GET', `/v1/requests/${'a'.repeat(300)}`);
      assert.equal(longId.status, 404);
      for (const answer of [badEncoding, longId]) {
        assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
        assert.match(String(answer.body['instance']), /^urn:phigate:request:[0-9a-f-]{36}$/);
      }
      assert.equal((await call('dan', 'GET', `/v1/requests/${id}`)).body['status'], 'pending');
    });

    it('returns hostile justification text as JSON data, unchanged', async () => {
      const hostile =
        "'; DROP TABLE audit_events; --<script>alert(1)</script>\r\nINFO fake\u001b[31m\u202e${x}";
      const created = await call('dan', 'POST', '/v1/requests', {
        ...analystRequest,
        justification: hostile,
      });
      assert.equal(created.status, 201);
      assert.equal(created.body['justification'], hostile);
    });
  });

  it('rate-limits each principal with 429 and Retry-After (ATTACKS 39)', async () => {
    let limited: Answer | undefined;
    for (let i = 0; i < 90 && !limited; i++) {
      const answer = await call('olivia', 'GET', '/v1/whoami');
      if (answer.status === 429) limited = answer;
    }
    assert.ok(limited, 'no 429 after 90 requests with a limit of 60 per minute');
    assert.equal(limited.body['code'], 'rate-limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await call('adam', 'GET', '/v1/whoami')).status, 200, 'other principals are unaffected');
  });

  it('caps the connections one address holds open (ATTACKS 39)', async () => {
    const port = Number(new URL(phigate.url).port);
    const open = (localAddress: string): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
        socket.on('error', () => undefined);
        socket.once('error', reject);
      });
    const closedWithin = (socket: Socket, ms: number): Promise<boolean> =>
      new Promise((resolve) => {
        if (socket.destroyed) return resolve(true);
        const timer = setTimeout(() => resolve(false), ms);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    const held = await Promise.all(Array.from({ length: 256 }, () => open('127.0.0.3')));
    try {
      const extra = await open('127.0.0.3');
      assert.equal(await closedWithin(extra, 2000), true, 'the 257th connection is closed');
      assert.equal(await closedWithin(held[0]!, 200), false, 'the first 256 stay open');
      assert.equal((await call('adam', 'GET', '/v1/whoami')).status, 200, 'other addresses are served');
    } finally {
      for (const socket of held) socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    const again = await open('127.0.0.3');
    assert.equal(await closedWithin(again, 300), false, 'closed connections free their places');
    again.destroy();
  });

  it('rate-limits each client address before authentication (ATTACKS 39)', async () => {
    // 60 per principal → 600 per address; bad tokens never reach a principal's bucket.
    const statuses: number[] = [];
    let limited: Answer | undefined;
    for (let i = 0; i < 650 && !limited; i++) {
      const answer = await fromAddress('127.0.0.2', '/v1/whoami', 'Bearer not-a-jwt');
      statuses.push(answer.status);
      if (answer.status === 429) limited = answer;
    }
    assert.ok(limited, `no 429 from one address after ${statuses.length} refused tokens`);
    assert.ok(statuses.length > 500, `limited too early, after ${statuses.length}`);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const valid = await fromAddress('127.0.0.2', '/v1/whoami', `Bearer ${tokens['adam']}`);
    assert.equal(valid.status, 429, 'the address is limited whoever it claims to be');
    assert.equal((await call('adam', 'GET', '/v1/whoami')).status, 200, 'other addresses are unaffected');
  });
});
