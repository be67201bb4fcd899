/**
 * The audit routes at the HTTP boundary: who may call them, what input they refuse (with the API's problem codes),
 * and that patient identifiers are accepted only in bodies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { demoPolicy } from '../demo/demo.js';
import type { RunningPhigate } from './start.js';
import { startTestPhigate, type TestPhigate } from '../../test/support/phigate.js';

describe('audit API', () => {
  let server: TestPhigate;
  let phigate: RunningPhigate;
  const tokens = new Map<string, string>();
  const call = async (user: string, method: string, path: string, body?: unknown) => {
    if (!tokens.has(user)) tokens.set(user, await phigate.mintDevToken!(user));
    const res = await fetch(new URL(path, phigate.url), {
      method,
      headers: {
        authorization: `Bearer ${tokens.get(user)!}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON (a key, a report)
    }
    return { status: res.status, text, json, type: res.headers.get('content-type') ?? '' };
  };

  before(async () => {
    server = await startTestPhigate({ policy: demoPolicy() });
    phigate = server.phigate;
  });
  after(() => server.stop());

  it('serves auditors only — the public key excepted — and records refusals', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/audit/events'],
      ['POST', '/v1/audit/events/search', {}],
      ['GET', '/v1/audit/checkpoints'],
      ['POST', '/v1/audit/checkpoints', {}],
      ['GET', '/v1/audit/proof/1'],
      ['GET', '/v1/audit/consistency?from=0&to=0'],
      ['GET', '/v1/audit/verify'],
      ['GET', '/v1/audit/export'],
      ['POST', '/v1/audit/disclosures', { patient: 'MRN-1' }],
    ] as const) {
      const r = await call('dan', method, path, body);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.json['code'], 'audit.auditors-only');
    }
    const key = await call('dan', 'GET', '/v1/audit/public-key');
    assert.equal(key.status, 200);
    assert.match(key.text, /BEGIN PUBLIC KEY/);
    const refusals = await call('priya', 'GET', '/v1/audit/events?action=audit.verify&limit=10');
    assert.ok(
      (refusals.json['items'] as { record: { outcome: string } }[]).some(
        (e) => e.record.outcome === 'refused',
      ),
    );
  });

  it('refuses malformed input with the API problem codes', async () => {
    const bad = [
      ['GET', '/v1/audit/proof/0'],
      ['GET', '/v1/audit/proof/abc'],
      ['GET', '/v1/audit/events?limit=0'],
      ['GET', '/v1/audit/events?patient=MRN-1'],
      ['GET', '/v1/audit/events?patientToken=MRN-1'],
      ['GET', '/v1/audit/events?from=yesterday'],
      ['GET', '/v1/audit/consistency?from=5'],
      ['GET', '/v1/audit/export?format=xml'],
    ] as const;
    for (const [method, path] of bad) {
      const r = await call('priya', method, path);
      assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
    }
    const noPatient = await call('priya', 'POST', '/v1/audit/disclosures', { from: '2026-01-01T00:00:00Z' });
    assert.equal(noPatient.status, 400);
    const extra = await call('priya', 'POST', '/v1/audit/events/search', {
      patient: 'MRN-1',
      sql: 'drop table',
    });
    assert.equal(extra.status, 400);
  });

  it('answers 404 for a proof beyond the log or against a size that was never signed', async () => {
    const beyond = await call('priya', 'GET', '/v1/audit/proof/999999');
    assert.equal(beyond.status, 404);
    assert.equal(beyond.json['code'], 'audit.no-such-event');
    const signed = await call('priya', 'POST', '/v1/audit/checkpoints', {});
    assert.equal(signed.status, 200);
    const size = signed.json['size'] as number;
    const unsigned = await call('priya', 'GET', `/v1/audit/proof/1?treeSize=${size + 7}`);
    assert.equal(unsigned.status, 404);
    assert.equal(unsigned.json['code'], 'audit.no-such-checkpoint');
    const ok = await call('priya', 'GET', `/v1/audit/proof/1?treeSize=${size}`);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json['treeSize'], size);
  });

  it('finds events by patient identifier only through a body, and the report comes in three formats', async () => {
    const request = await call('dan', 'POST', '/v1/requests', {
      resource: 'clinic-db',
      role: 'analyst-encounters',
      duration: '10m',
      purpose: 'HQUALIMP',
      justification: 'API test of the audit search',
      patientIds: ['MRN-API-1'],
    });
    assert.equal(request.status, 201, request.text);
    const found = await call('priya', 'POST', '/v1/audit/events/search', { patient: 'MRN-API-1', limit: 50 });
    assert.equal(found.status, 200, found.text);
    const items = found.json['items'] as { record: { what: { patients: string[] } } }[];
    assert.ok(items.length >= 1);
    const token = items[0]!.record.what.patients[0]!;
    const byToken = await call('priya', 'GET', `/v1/audit/events?patientToken=${token}`);
    // The same events, plus the search just made: an auditor's query about a patient is itself on record.
    const again = byToken.json['items'] as { record: { action: string } }[];
    assert.equal(again.length, items.length + 1);
    assert.equal(again.at(-1)!.record.action, 'audit.query');
    for (const [format, type] of [
      ['json', 'application/json'],
      ['text', 'text/plain'],
      ['html', 'text/html'],
    ] as const) {
      const r = await call('priya', 'POST', '/v1/audit/disclosures', { patient: 'MRN-API-1', format });
      assert.equal(r.status, 200);
      assert.ok(r.type.startsWith(type), r.type);
    }
  });
});
