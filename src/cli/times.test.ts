import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { localTime, relative, when } from './times.js';

const now = new Date('2026-12-02T16:19:00Z');

describe('CLI times', () => {
  it('counts down and back in at most two units', () => {
    assert.equal(relative(new Date('2026-12-02T16:28:57Z'), now), 'in 10 min');
    assert.equal(relative(new Date('2026-12-02T16:28:00Z'), now), 'in 9 min');
    assert.equal(relative(new Date('2026-12-02T18:24:00Z'), now), 'in 2 h 5 min');
    assert.equal(relative(new Date('2026-12-02T17:19:00Z'), now), 'in 1 h');
    assert.equal(relative(new Date('2026-12-05T20:19:00Z'), now), 'in 3 d 4 h');
    assert.equal(relative(new Date('2026-12-02T16:07:00Z'), now), '12 min ago');
    assert.equal(relative(new Date('2026-12-02T16:19:20Z'), now), 'in under a minute');
    assert.equal(relative(new Date('2026-12-02T16:18:30Z'), now), 'just now');
  });

  it('prints local wall-clock time in the given zone, with the date only when it is not today there', () => {
    assert.equal(localTime(new Date('2026-12-02T16:28:00Z'), { now, timeZone: 'UTC' }), '16:28 UTC');
    const berlin = { now, timeZone: 'Europe/Berlin' };
    assert.match(localTime(new Date('2026-12-02T16:28:00Z'), berlin), /^17:28 (CET|GMT\+1)$/);
    // 23:30 UTC is already tomorrow in Berlin.
    assert.match(localTime(new Date('2026-12-02T23:30:00Z'), berlin), /^2026-12-03 00:30 (CET|GMT\+1)$/);
    const newYork = { now, timeZone: 'America/New_York' };
    assert.match(localTime(new Date('2026-12-02T16:28:00Z'), newYork), /^11:28 (EST|GMT-5)$/);
  });

  it('joins both, and leaves text that is not a time alone', () => {
    assert.equal(when('2026-12-02T16:28:00.000Z', { now, timeZone: 'UTC' }), '16:28 UTC, in 9 min');
    assert.equal(when('soon', { now, timeZone: 'UTC' }), 'soon');
  });
});
