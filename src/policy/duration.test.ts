import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads short and ISO 8601 forms', () => {
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('PT45M'), 2_700_000);
    assert.equal(parseDuration('P1DT2H'), 93_600_000);
  });
  for (const bad of [
    '',
    '0m',
    '-5m',
    'P',
    'PT',
    '30',
    'm30',
    '1y',
    'P1Y',
    'P1M',
    'P9999Y',
    '30 minutes',
    '1e3s',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseDuration(bad), /invalid duration/));
  }
  it('refuses absurd lengths naming the ceiling', () => {
    assert.throws(
      () => parseDuration('999999d'),
      (e: Error) => /30d/.test(e.message),
    );
    assert.throws(() => parseDuration('P9999D'), /ceiling/);
  });
  it('formats', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(45_000), '45s');
  });
});
