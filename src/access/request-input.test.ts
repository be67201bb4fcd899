import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REQUEST_LIMITS, validateNewRequest } from './request-input.js';
import type { NewRequest } from './types.js';

const base: NewRequest = {
  resource: 'clinic-db',
  role: 'analyst-read',
  duration: '2h',
  purpose: 'HOPERAT',
  justification: 'Quality review of encounter 42',
};
const defaults = (role: string): number | undefined => (role === 'analyst-read' ? 1_800_000 : undefined);
const check = (input: unknown) => validateNewRequest(input as NewRequest, defaults);

describe('request input validation', () => {
  it('turns a well-formed request into policy facts (duration parsed, patient ids sorted and unique)', () => {
    assert.deepEqual(check({ ...base, ticket: 'T-1', patientIds: ['MRN-2', 'MRN-1', 'MRN-2'] }), {
      resource: 'clinic-db',
      role: 'analyst-read',
      durationMs: 7_200_000,
      purpose: 'HOPERAT',
      justification: 'Quality review of encounter 42',
      ticket: 'T-1',
      patientIds: ['MRN-1', 'MRN-2'],
    });
  });

  it("uses the role's default duration when none is given, and 0 for an unknown role (the policy refuses it)", () => {
    const { duration: _omit, ...rest } = base;
    assert.equal(check(rest).durationMs, 1_800_000);
    assert.equal(check({ ...rest, role: 'nope' }).durationMs, 0);
  });

  it('refuses fields phigate sets itself (mass assignment, ATTACKS 9)', () => {
    for (const extra of [
      { status: 'active' },
      { expiresAt: '2999-01-01T00:00:00Z' },
      { requester: 'https://idp#admin' },
      { approvedBy: ['x'] },
      { __proto__: { status: 'active' }, constructor: 'x' },
    ]) {
      assert.throws(
        () => check({ ...base, ...extra }),
        { code: 'request.unknown-field' },
        JSON.stringify(extra),
      );
    }
  });

  it('refuses malformed, negative, zero and unparseable durations (ATTACKS 17)', () => {
    for (const duration of ['-5m', '0m', '0', 'PT0S', 'soon', '1y', '30m1h', '', 'x'.repeat(41), '1h\n']) {
      assert.throws(
        () => check({ ...base, duration }),
        { code: 'duration.invalid' },
        JSON.stringify(duration),
      );
    }
    assert.throws(() => check({ ...base, duration: 3600 }), { code: 'duration.invalid' });
  });

  it("leaves durations beyond the role's maximum to the policy, which names the limit; absurd ones name the ceiling", () => {
    // 20 days parses; the policy's `duration.over-max` (with limitMs) refuses it for the role.
    assert.equal(check({ ...base, duration: '20d' }).durationMs, 20 * 86_400_000);
    assert.throws(
      () => check({ ...base, duration: '999999d' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'duration.invalid');
        assert.match(err.message, /ceiling of 30d/);
        return true;
      },
    );
  });

  it('bounds names and codes and keeps control characters out of them', () => {
    for (const bad of [
      { resource: '' },
      { role: 'a'.repeat(101) },
      { role: 'x;drop' },
      { resource: 'db\r\nX' },
    ]) {
      assert.throws(
        () => check({ ...base, ...bad }),
        (err: Error & { code?: string }) => /^request\.(resource|role)-invalid$/.test(err.code ?? ''),
        JSON.stringify(bad),
      );
    }
    for (const purpose of ['', 'TREAT\n', 'A'.repeat(33), 'TREAT OR 1=1', 42]) {
      assert.throws(() => check({ ...base, purpose }), { code: 'purpose.invalid' });
    }
    for (const ticket of ['', 'T\r\n2', 'x'.repeat(REQUEST_LIMITS.ticketLength + 1)]) {
      assert.throws(() => check({ ...base, ticket }), { code: 'ticket.invalid' });
    }
  });

  it('keeps hostile justification text as data, but caps it and refuses NUL (ATTACKS 16)', () => {
    const hostile =
      "'; drop table x; -- <script>alert(1)</script>\r\nFAKE LOG \u001b[31m \u202e ${process.env}";
    assert.equal(check({ ...base, justification: hostile }).justification, hostile);
    assert.throws(
      () => check({ ...base, justification: 'x'.repeat(REQUEST_LIMITS.justificationLength + 1) }),
      (err: Error & { code?: string; details?: Record<string, unknown> }) =>
        err.code === 'justification.too-long' &&
        err.details?.maxLength === REQUEST_LIMITS.justificationLength,
    );
    assert.throws(() => check({ ...base, justification: 'a\u0000b' }), { code: 'justification.invalid' });
    assert.throws(() => check({ ...base, justification: { text: 'x' } }), { code: 'justification.invalid' });
    // Empty text goes on to the policy, which refuses it as justification.missing with its own minimum.
    assert.equal(check({ ...base, justification: '' }).justification, '');
  });

  it('refuses patient lists that are not lists of bounded printable strings, or absurdly long', () => {
    for (const patientIds of ['MRN-1', [1], ['a\u0000'], ['x'.repeat(65)], [['nested']]]) {
      assert.throws(
        () => check({ ...base, patientIds }),
        { code: 'patients.invalid' },
        JSON.stringify(patientIds),
      );
    }
    const many = Array.from({ length: REQUEST_LIMITS.patientIds + 1 }, (_, i) => `MRN-${i}`);
    assert.throws(() => check({ ...base, patientIds: many }), { code: 'patients.too-many' });
  });
});
