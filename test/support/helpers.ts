import { createPseudonymizer } from '../../src/audit/pseudonymizer.js';
/** Small helpers shared by integration tests: people, refusals, waiting, and a logger that says nothing. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Principal } from '../../src/identity/principal.js';
import { PhigateError } from '../../src/lib/errors.js';

/** A verified person at a test issuer, as the token verifier would produce (identity has its own tests). */
export function person(name: string, groups: string[], mfa = true): Principal {
  return {
    id: `https://idp.test#${name}`,
    issuer: 'https://idp.test',
    subject: name,
    displayName: name,
    email: undefined,
    groups,
    mfa: { satisfied: mfa, amr: mfa ? ['pwd', 'otp'] : ['pwd'], acr: undefined },
    tokenId: undefined,
    tokenExpiresAt: new Date(Date.now() + 3_600_000),
  };
}

/** The PhigateError a call is refused with; fails the test if it succeeds or throws anything else. */
export async function refusal(promise: Promise<unknown>): Promise<PhigateError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PhigateError) return err;
    throw err;
  }
  assert.fail('expected a refusal');
}

/** Polls until `cond` holds, failing after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const silentLogger = Object.freeze({
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

/** A pseudonymizer with a fixed, obviously-not-secret key: tokens are stable across test runs. */
export const testPseudonymizer = createPseudonymizer(Buffer.alloc(32, 0x5a));
