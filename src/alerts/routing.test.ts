import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelsFor } from './routing.js';

describe('alert routing', () => {
  const routes = [
    { channels: ['siem'] },
    { kinds: ['break-glass'], channels: ['pager', 'siem'] },
    { minSeverity: 'warning' as const, channels: ['mail'] },
  ];
  it('sends an alert to the union of the channels of every matching route, once each', () => {
    assert.deepEqual(channelsFor(routes, { kind: 'break-glass', severity: 'critical' }), [
      'mail',
      'pager',
      'siem',
    ]);
  });
  it('filters by kind and by minimum severity', () => {
    assert.deepEqual(channelsFor(routes, { kind: 'probing', severity: 'info' }), ['siem']);
    assert.deepEqual(channelsFor(routes, { kind: 'probing', severity: 'warning' }), ['mail', 'siem']);
  });
  it('routes nowhere without routes', () => {
    assert.deepEqual(channelsFor([], { kind: 'break-glass', severity: 'critical' }), []);
  });
});
