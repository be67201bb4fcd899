import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GRANT_STATUSES,
  LIFECYCLE_EVENTS,
  REQUEST_STATUSES,
  isTerminal,
  transition,
  type LifecycleEvent,
} from './state-machine.js';
import type { RequestStatus } from './types.js';

const LEGAL: ReadonlyArray<[RequestStatus, LifecycleEvent, RequestStatus]> = [
  ['pending', 'approve', 'pending'],
  ['pending', 'activate', 'active'],
  ['pending', 'deny', 'denied'],
  ['pending', 'cancel', 'cancelled'],
  ['pending', 'time-out', 'timed-out'],
  ['active', 'expire', 'expired'],
  ['active', 'revoke', 'revoked'],
];

describe('lifecycle state machine', () => {
  it('allows exactly the documented transitions', () => {
    for (const [from, event, to] of LEGAL) {
      assert.deepEqual(transition(from, event), { ok: true, from, to }, `${from} --${event}-->`);
    }
  });

  it('refuses every other (status, event) pair with a stable code', () => {
    let refused = 0;
    for (const from of REQUEST_STATUSES) {
      for (const event of LIFECYCLE_EVENTS) {
        if (LEGAL.some(([f, e]) => f === from && e === event)) continue;
        const result = transition(from, event);
        assert.equal(result.ok, false, `${from} --${event}--> must be refused`);
        if (result.ok) continue;
        const grantEvent = event === 'expire' || event === 'revoke';
        assert.equal(
          result.code,
          grantEvent ? 'grant.not-active' : 'request.not-pending',
          `${from}/${event}`,
        );
        assert.match(result.message, new RegExp(from));
        refused++;
      }
    }
    assert.equal(refused, REQUEST_STATUSES.length * LIFECYCLE_EVENTS.length - LEGAL.length);
  });

  it('cannot re-activate, re-expire or resurrect a closed request', () => {
    assert.equal(transition('active', 'activate').ok, false);
    assert.equal(transition('expired', 'expire').ok, false);
    assert.equal(transition('revoked', 'revoke').ok, false);
    assert.equal(transition('denied', 'activate').ok, false);
    assert.equal(transition('timed-out', 'approve').ok, false);
    assert.equal(transition('expired', 'revoke').ok, false);
  });

  it('knows the terminal statuses', () => {
    const terminal = REQUEST_STATUSES.filter(isTerminal);
    assert.deepEqual(terminal, ['expired', 'revoked', 'denied', 'cancelled', 'timed-out']);
    assert.deepEqual(GRANT_STATUSES, ['active', 'expired', 'revoked']);
  });
});
