/**
 * The API's conventions, on a real server with real tokens (issue 14 item 12): every documented operation has a
 * unique operationId and a summary; shared schemas have names; the demo issuer's protocol endpoints stay out of the
 * document; errors are documented as served (application/problem+json); a known path asked with the wrong method
 * answers 405 with Allow; a request off the schema hears about every violation at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';
import type { RunningPhigate } from './start.js';

const POLICY = `
version: 1
auditors: { groups: [privacy-office] }
resources: { clinic-db: { kind: postgres } }
approvalRules:
  one-lead: { approvers: { groups: [clinical-leads], count: 1 } }
roles:
  analyst:
    resource: clinic-db
    eligibleGroups: [analysts]
    duration: { default: 30m, max: 4h }
    purposes: [HOPERAT]
    approval: one-lead
`;

interface Operation {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  responses: Record<string, { content?: Record<string, unknown> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

describe('API conventions', () => {
  let server: TestPhigate;
  let phigate: RunningPhigate;
  let doc: Document;
  let dan: string;

  before(async () => {
    server = await startTestPhigate({ policy: { source: POLICY, sourceName: 'conventions-policy.yaml' } });
    phigate = server.phigate;
    dan = await phigate.mintDevToken!('dan');
    doc = (await (await fetch(`${phigate.url}/openapi.json`)).json()) as Document;
  });
  after(() => server.stop());

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.has(method))
        .map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
    );

  it('gives every operation a unique operationId and a summary', () => {
    const all = operations();
    assert.ok(all.length >= 25, `only ${all.length} operations documented`);
    const ids = new Map<string, string>();
    for (const [where, op] of all) {
      assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${where} has no operationId`);
      assert.ok((op.summary ?? '').length > 0, `${where} has no summary`);
      assert.equal(ids.get(op.operationId!), undefined, `${where} reuses ${op.operationId}`);
      ids.set(op.operationId!, where);
    }
  });

  it('names shared schemas and documents errors as application/problem+json', () => {
    const names = Object.keys(doc.components.schemas);
    assert.ok(names.includes('Problem') && names.includes('AccessRequest'), names.join());
    assert.ok(!names.some((n) => /^def-\d+$/.test(n)), `anonymous schemas: ${names.join()}`);
    for (const [where, op] of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        assert.deepEqual(
          Object.keys(response.content ?? {}),
          ['application/problem+json'],
          `${where} ${status}`,
        );
      }
    }
  });

  it('keeps the demo issuer’s protocol endpoints out of the document', () => {
    assert.deepEqual(
      Object.keys(doc.paths).filter((p) => p.startsWith('/dev-oidc')),
      [],
    );
    // …while they still answer.
    return fetch(`${phigate.url}/dev-oidc/.well-known/openid-configuration`).then((r) =>
      assert.equal(r.status, 200),
    );
  });

  it('answers a known path asked with the wrong method 405 with Allow, an unknown path 404', async () => {
    const wrong = await fetch(`${phigate.url}/v1/requests/3f1c0d5e-0000-4000-8000-000000000000/approve`, {
      headers: { authorization: `Bearer ${dan}` },
    });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal(wrong.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const body = (await wrong.json()) as Record<string, unknown>;
    assert.equal(body['code'], 'method.not-allowed');

    const listing = await fetch(`${phigate.url}/v1/requests`, { method: 'DELETE' });
    assert.equal(listing.status, 405);
    assert.equal(listing.headers.get('allow'), 'GET, HEAD, POST');

    const health = await fetch(`${phigate.url}/healthz`, { method: 'POST' });
    assert.equal(health.status, 405);
    assert.equal(health.headers.get('allow'), 'GET, HEAD');

    const nowhere = await fetch(`${phigate.url}/v1/nowhere`);
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.headers.get('allow'), null);
  });

  it('reports every schema violation of a request in one 400, and records nothing', async () => {
    const res = await fetch(`${phigate.url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dan}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        resource: 'clinic-db',
        role: '',
        purpose: 'HOPERAT',
        bogus: 1,
        patientIds: [''],
      }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as {
      code: string;
      detail: string;
      errors: { field: string; message: string }[];
    };
    assert.equal(body.code, 'request.invalid');
    const fields = body.errors.map((e) => e.field).sort();
    assert.deepEqual(
      fields,
      ['body', 'body/bogus', 'body/patientIds/0', 'body/role'],
      JSON.stringify(body.errors),
    );
    for (const e of body.errors) assert.ok(body.detail.includes(e.message), e.message);
    const rows = await phigate.store.db.selectFrom('access_requests').select('id').execute();
    assert.equal(rows.length, 0, 'a refused request stores nothing');
  });
});
