import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chainedMs, type ChainGrant } from './chain.js';

const MIN = 60_000;
const now = new Date('2025-03-01T12:00:00Z');
const at = (minutes: number): Date => new Date(now.getTime() + minutes * MIN);
const g = (from: number, to: number): ChainGrant => ({ activatedAt: at(from), endAt: at(to) });

describe('chainedMs', () => {
  it('is zero with no grants, or when the latest grant already ended', () => {
    assert.equal(chainedMs([], now), 0);
    assert.equal(chainedMs([g(-60, -1)], now), 0);
  });

  it('counts an active grant from its start to its expiry', () => {
    assert.equal(chainedMs([g(-30, 30)], now), 60 * MIN);
  });

  it('follows back-to-back and overlapping grants, counting covered time once', () => {
    assert.equal(chainedMs([g(-120, -60), g(-60, 0), g(0, 30)], now), 150 * MIN);
    assert.equal(chainedMs([g(-90, -30), g(-60, 10)], now), 100 * MIN);
  });

  it('stops at a gap', () => {
    assert.equal(chainedMs([g(-200, -150), g(-120, -60), g(-60, 20)], now), 140 * MIN);
  });

  it('does not depend on input order', () => {
    const grants = [g(0, 30), g(-120, -60), g(-300, -250), g(-60, 0)];
    assert.equal(chainedMs(grants, now), chainedMs([...grants].reverse(), now));
    assert.equal(chainedMs(grants, now), 150 * MIN);
  });

  it('counts a grant ending exactly now', () => {
    assert.equal(chainedMs([g(-45, 0)], now), 45 * MIN);
  });
});
