import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PhigateError } from './errors.js';
import { DURATION_CEILING_MS, formatDuration, parseDuration } from './duration.js';

const codeOf = (text: string): string | undefined => {
  try {
    parseDuration(text);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof PhigateError, 'only PhigateError escapes');
    return err.code;
  }
};

describe('parseDuration', () => {
  it('reads short and ISO 8601 forms', () => {
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('1h0m30s500ms'), 3_630_500);
    assert.equal(parseDuration(' 15m '), 900_000);
    assert.equal(parseDuration('PT45M'), 2_700_000);
    assert.equal(parseDuration('P1DT2H'), 93_600_000);
    assert.equal(parseDuration('P2D'), 2 * 86_400_000);
    assert.equal(parseDuration('PT1H30M15S'), 5_415_000);
  });

  for (const bad of [
    '',
    '   ',
    '0m',
    '0h0m',
    'PT0S',
    '-5m',
    '-PT5M',
    'P',
    'PT',
    'P1DT',
    '30',
    'm30',
    '1y',
    '1w',
    '2H',
    '1M',
    'P1Y',
    'P1M',
    'P1W',
    'P9999Y',
    'PT1.5H',
    '1.5h',
    '30 minutes',
    '1h 30m',
    '1e3s',
    '30m1h',
    '1h1h',
    'PT1M1H',
    'PT1H1H',
    '1234567s',
    'P1234567D',
    'x'.repeat(1_000_000),
  ]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 20))} as duration.invalid`, () => {
      assert.equal(codeOf(bad), 'duration.invalid');
    });
  }

  it('names what is wrong: years and months vary in length; negatives are not durations', () => {
    assert.throws(() => parseDuration('P9999Y'), /years, months and weeks/);
    assert.throws(() => parseDuration('-5m'), /positive/);
    assert.throws(() => parseDuration('30m1h'), /largest first/);
  });

  it('refuses absurd lengths as duration.too-long, naming the ceiling', () => {
    for (const text of ['999999d', 'P9999D', '31d', 'P30DT1S']) {
      assert.equal(codeOf(text), 'duration.too-long', text);
    }
    assert.throws(
      () => parseDuration('999999d'),
      (e: PhigateError) => /30d/.test(e.message) && e.details['limitMs'] === DURATION_CEILING_MS,
    );
    assert.equal(parseDuration('30d'), DURATION_CEILING_MS);
  });

  it('formats', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(DURATION_CEILING_MS), '30d');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(Number.NaN), '0s');
  });

  it('property: formatting then parsing gives the same length back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: DURATION_CEILING_MS }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
    );
  });

  it('property: arbitrary text either parses to a positive length within the ceiling or throws a duration code', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (text) => {
        const code = codeOf(text);
        if (code === undefined) {
          const ms = parseDuration(text);
          assert.ok(ms > 0 && ms <= DURATION_CEILING_MS);
        } else {
          assert.ok(code === 'duration.invalid' || code === 'duration.too-long');
        }
      }),
    );
  });
});
