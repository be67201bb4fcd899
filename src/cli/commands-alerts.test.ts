import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertTable, deliveryCell } from './commands-alerts.js';

const times = { now: new Date('2026-01-02T10:00:00Z'), timeZone: 'UTC' };

describe('phigate alerts rendering', () => {
  it('says per channel what happened, with the attempts and the last error', () => {
    assert.equal(deliveryCell({ channel: 'soc', status: 'delivered', attempts: 1 }, times), 'soc: delivered');
    assert.equal(deliveryCell({ channel: 'soc', status: 'pending', attempts: 0 }, times), 'soc: pending');
    assert.equal(
      deliveryCell({ channel: 'mail', status: 'dead', attempts: 12, lastError: 'timed out' }, times),
      'mail: DEAD (12 attempts: timed out)',
    );
    assert.match(
      deliveryCell(
        {
          channel: 'siem',
          status: 'pending',
          attempts: 3,
          nextAttemptAt: '2026-01-02T10:02:00Z',
          lastError: 'HTTP 503',
        },
        times,
      ),
      /^siem: retrying \(3 attempts, next .*in 2 min: HTTP 503\)$/,
    );
  });

  it('tells unrouted alerts and alerts with no channel apart', () => {
    const base = {
      kind: 'break-glass',
      severity: 'critical',
      raisedAt: '2026-01-02T09:59:00Z',
      deliveries: [],
    };
    const text = alertTable(
      [
        { ...base, id: 2 },
        { ...base, id: 1, routedAt: '2026-01-02T09:59:00Z' },
      ],
      times,
    );
    assert.match(text, /^2 .*not routed yet$/m);
    assert.match(text, /^1 .*\(no channel\)$/m);
    assert.equal(alertTable([], times), '(none)');
  });

  it('shows a hostile channel error escaped, not as terminal control', () => {
    const text = alertTable(
      [
        {
          id: 3,
          kind: 'break-glass',
          severity: 'critical',
          raisedAt: '2026-01-02T09:59:00Z',
          routedAt: '2026-01-02T09:59:00Z',
          deliveries: [{ channel: 'soc', status: 'dead', attempts: 1, lastError: 'x\u001b[2Jy' }],
        },
      ],
      times,
    );
    assert.ok(!text.includes('\u001b'));
  });
});
