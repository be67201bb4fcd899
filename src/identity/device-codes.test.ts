import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDeviceCodeStore } from './device-codes.js';

function setup(maxPending = 10) {
  let t = Date.parse('2030-01-01T00:00:00Z');
  const store = createDeviceCodeStore({
    clock: { now: () => new Date(t) },
    ttlSeconds: 600,
    intervalSeconds: 2,
    maxPending,
  });
  return { store, advance: (ms: number) => (t += ms) };
}

describe('device code store', () => {
  it('hands out a token once, after approval, to the client that asked', () => {
    const { store, advance } = setup();
    const auth = store.create('cli')!;
    assert.equal(store.poll(auth.deviceCode, 'cli').status, 'pending');
    assert.equal(store.poll(auth.deviceCode, 'other').status, 'invalid');
    assert.ok(store.approve(auth.userCode.toLowerCase(), 'carol'));
    assert.ok(!store.approve(auth.userCode, 'adam'), 'an approved code cannot be approved again');
    advance(2000);
    assert.deepEqual(store.poll(auth.deviceCode, 'cli'), { status: 'approved', username: 'carol' });
    assert.equal(store.poll(auth.deviceCode, 'cli').status, 'invalid');
  });

  it('asks clients that poll too fast to slow down', () => {
    const { store, advance } = setup();
    const auth = store.create('cli')!;
    assert.equal(store.poll(auth.deviceCode, 'cli').status, 'pending');
    advance(200);
    assert.equal(store.poll(auth.deviceCode, 'cli').status, 'slow_down');
    advance(2000);
    assert.equal(store.poll(auth.deviceCode, 'cli').status, 'pending');
  });

  it('expires codes and bounds how many are pending', () => {
    const { store, advance } = setup(2);
    const auth = store.create('cli')!;
    assert.ok(store.create('cli'));
    assert.equal(store.create('cli'), undefined);
    advance(600_000);
    assert.ok(!store.isPending(auth.userCode));
    assert.ok(!store.approve(auth.userCode, 'carol'));
    assert.equal(store.poll(auth.deviceCode, 'cli').status, 'expired');
    assert.ok(store.create('cli'), 'expired codes free their slots');
  });
});
