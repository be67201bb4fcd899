import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertMessage } from './alert-message.js';

const alert = {
  id: 42,
  kind: 'break-glass',
  severity: 'critical' as const,
  requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
  detail: {
    role: 'er-physician',
    resource: 'ehr',
    purpose: 'ETREAT',
    reviewItemId: 7,
    patient: 'MRN-123',
    justification: 'patient Jane Doe coded',
  },
  createdAt: new Date('2026-01-02T03:04:05.000Z'),
};

describe('alert message (what leaves phigate)', () => {
  it('keeps the id as message id, the kind, severity and a link to the request', () => {
    const m = alertMessage(alert, 'https://phigate.example.org/');
    assert.equal(m.messageId, 'phigate-alert-42');
    assert.equal(m.title, 'Break-glass access used');
    assert.equal(m.link, 'https://phigate.example.org/v1/requests/0f8fad5b-d9cb-469f-a165-70867728950e');
    assert.equal(m.raisedAt, '2026-01-02T03:04:05.000Z');
  });
  it('carries only the evidence the kind declares, and only identifier-like values', () => {
    const m = alertMessage(
      { ...alert, detail: { ...alert.detail, role: 'Jane Doe, 5 Main St' } },
      'https://phigate.example.org',
    );
    assert.deepEqual(m.evidence, { resource: 'ehr', purpose: 'ETREAT', reviewItemId: 7 });
  });
  it('shows a kind it does not know by name, with no evidence', () => {
    const m = alertMessage({ ...alert, kind: 'future-kind', requestId: null }, 'https://p.example');
    assert.deepEqual(m.evidence, {});
    assert.equal(m.link, 'https://p.example/v1/alerts?before=43&limit=1');
  });
});
