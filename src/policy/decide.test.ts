import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicyOrThrow } from './compile.js';
import type { DecisionInput, RequestFacts } from './types.js';

const policy = compilePolicyOrThrow(
  readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8'),
  'clinic-policy.yaml',
);

const dan = { id: 'dev#dan', groups: ['analysts'], mfa: { satisfied: false } };
const analystRequest: RequestFacts = {
  resource: 'clinic-db',
  role: 'analyst-encounters',
  durationMs: 3_600_000,
  purpose: 'HQUALIMP',
  justification: 'Readmission review for Q3',
  ticket: undefined,
  patientIds: ['MRN-1'],
};
const WEDNESDAY_NOON_NY = new Date('2026-01-07T17:00:00Z');

function input(request: Partial<RequestFacts>, extra: Partial<DecisionInput> = {}): DecisionInput {
  return {
    principal: dan,
    request: { ...analystRequest, ...request },
    now: WEDNESDAY_NOON_NY,
    chainedMs: 0,
    ...extra,
  };
}

function codes(i: DecisionInput): string[] {
  return policy.decide(i).reasons.map((r) => r.code);
}

describe('decide', () => {
  it('asks for approval with the rule the role names', () => {
    const d = policy.decide(input({}));
    assert.equal(d.outcome, 'needs-approval');
    assert.ok(
      d.outcome === 'needs-approval' && d.requirement.rule === 'one-lead' && d.requirement.count === 1,
    );
  });

  for (const [what, request, code] of [
    ['an unknown resource', { resource: 'payroll' }, 'resource.unknown'],
    ['an unknown role', { role: 'superuser' }, 'role.unknown'],
    ['an unknown purpose', { purpose: 'CURIOSITY' }, 'purpose.unknown'],
    ['a purpose the role does not allow', { purpose: 'TREAT' }, 'purpose.not-allowed'],
    ['a missing justification', { justification: '   ' }, 'justification.missing'],
    ['a too short justification', { justification: 'because' }, 'justification.too-short'],
    ['a 1 MB justification', { justification: 'x'.repeat(1_000_000) }, 'justification.too-long'],
    ['a zero duration', { durationMs: 0 }, 'duration.invalid'],
    ['a negative duration', { durationMs: -60_000 }, 'duration.invalid'],
    ['a duration above the maximum', { durationMs: 5 * 3_600_000 }, 'duration.over-max'],
    ['no patients on a patient-scoped role', { patientIds: [] }, 'patients.required'],
    ['a wildcard patient', { patientIds: ['*'] }, 'patients.invalid'],
    ['"all" patients', { patientIds: ['ALL'] }, 'patients.invalid'],
    ['a LIKE pattern as patient', { patientIds: ['MRN-%'] }, 'patients.invalid'],
    ['a patient id with a control character', { patientIds: ['MRN-1\r\nfake'] }, 'patients.invalid'],
    [
      'too many patients',
      { patientIds: Array.from({ length: 501 }, (_, i) => `MRN-${i}`) },
      'patients.too-many',
    ],
  ] as const) {
    it(`denies ${what} with ${code}`, () => {
      const d = policy.decide(input(request));
      assert.equal(d.outcome, 'deny');
      assert.ok(codes(input(request)).includes(code), `reasons: ${codes(input(request)).join(',')}`);
    });
  }

  it('names the limit when a duration is over the maximum', () => {
    const d = policy.decide(input({ durationMs: 5 * 3_600_000 }));
    assert.equal(d.reasons[0]?.details?.['limitMs'], 4 * 3_600_000);
    assert.match(d.reasons[0]?.message ?? '', /4h/);
  });

  it('denies people outside the eligible groups', () => {
    const alice = { id: 'dev#alice', groups: ['support'], mfa: { satisfied: true } };
    assert.ok(codes(input({}, { principal: alice })).includes('role.not-eligible'));
  });

  it('denies a patient scope on a role that has none... and accepts it where optional', () => {
    const alice = { id: 'dev#alice', groups: ['support'], mfa: { satisfied: true } };
    const d = policy.decide({
      principal: alice,
      request: {
        ...analystRequest,
        role: 'support-encounters-read',
        purpose: 'HOPERAT',
        durationMs: 600_000,
      },
      now: WEDNESDAY_NOON_NY,
      chainedMs: 0,
    });
    assert.equal(d.outcome, 'allow');
  });

  it('caps a chain of back-to-back grants at the cumulative maximum (ATTACKS 20)', () => {
    assert.equal(policy.decide(input({}, { chainedMs: 7 * 3_600_000 })).outcome, 'needs-approval');
    const d = policy.decide(input({ durationMs: 2 * 3_600_000 }, { chainedMs: 7 * 3_600_000 }));
    assert.deepEqual(
      d.reasons.map((r) => r.code),
      ['duration.chain-over-max'],
    );
  });

  it('stores hostile justification text as data: SQL, HTML, CRLF, ANSI, RTL and templates decide normally', () => {
    const hostile =
      "'; DROP TABLE audit_events; -- <script>alert(1)</script>\r\nFAKE LOG\u001b[31m\u202e${process.env}";
    assert.equal(policy.decide(input({ justification: hostile })).outcome, 'needs-approval');
  });

  describe('auto-approval', () => {
    const alice = { id: 'dev#alice', groups: ['support'], mfa: { satisfied: false } };
    const support = (now: Date, durationMs = 900_000): DecisionInput => ({
      principal: alice,
      request: {
        ...analystRequest,
        role: 'support-encounters-read',
        purpose: 'HOPERAT',
        durationMs,
        patientIds: [],
      },
      now,
      chainedMs: 0,
    });
    it('grants at once inside business hours in the policy time zone', () => {
      const d = policy.decide(support(WEDNESDAY_NOON_NY));
      assert.equal(d.outcome, 'allow');
      assert.ok(d.outcome === 'allow' && d.mode === 'auto');
    });
    it('asks for approval outside business hours, above its duration cap, or at weekends', () => {
      assert.equal(policy.decide(support(new Date('2026-01-08T02:00:00Z'))).outcome, 'needs-approval'); // 21:00 NY
      assert.equal(policy.decide(support(WEDNESDAY_NOON_NY, 3_600_000)).outcome, 'needs-approval');
      assert.equal(policy.decide(support(new Date('2026-01-10T17:00:00Z'))).outcome, 'needs-approval'); // Saturday
    });
    it('follows daylight saving time: 08:30 local is inside hours on both sides of the March change', () => {
      // 2026-03-06 (EST, UTC-5) and 2026-03-09 (EDT, UTC-4), both 08:30 in New York.
      assert.equal(policy.decide(support(new Date('2026-03-06T13:30:00Z'))).outcome, 'allow');
      assert.equal(policy.decide(support(new Date('2026-03-09T12:30:00Z'))).outcome, 'allow');
      // 07:30 EDT, which would be 08:30 under EST: outside.
      assert.equal(policy.decide(support(new Date('2026-03-09T11:30:00Z'))).outcome, 'needs-approval');
    });
  });

  describe('break-glass', () => {
    const olivia = { id: 'dev#olivia', groups: ['physicians', 'oncall'], mfa: { satisfied: true } };
    const glass = (request: Partial<RequestFacts>): DecisionInput => ({
      principal: olivia,
      request: {
        ...analystRequest,
        role: 'oncall-breakglass',
        purpose: 'BTG',
        durationMs: 1_800_000,
        patientIds: [],
        ...request,
      },
      now: new Date('2026-01-08T03:00:00Z'),
      chainedMs: 0,
    });
    it('activates at once without approvers', () => {
      const d = policy.decide(glass({}));
      assert.ok(d.outcome === 'allow' && d.mode === 'break-glass');
    });
    it('requires a multi-factor sign-in by default (ATTACKS 7)', () => {
      const d = policy.decide({ ...glass({}), principal: { ...olivia, mfa: { satisfied: false } } });
      assert.equal(d.outcome, 'deny');
      assert.deepEqual(
        d.reasons.map((r) => r.code),
        ['mfa.required'],
      );
    });
    it('keeps its short maximum and its justification', () => {
      assert.ok(codes(glass({ durationMs: 2 * 3_600_000 })).includes('duration.over-max'));
      assert.ok(codes(glass({ justification: '' })).includes('justification.missing'));
      assert.ok(codes(glass({ purpose: 'TREAT' })).includes('purpose.not-allowed'));
    });
  });

  it('lists the roles a person may request', () => {
    assert.deepEqual(
      policy
        .rolesFor({ id: 'x', groups: ['physicians', 'oncall'], mfa: { satisfied: true } })
        .map((r) => r.name),
      ['oncall-breakglass', 'physician-chart-review'],
    );
    assert.deepEqual(policy.rolesFor({ id: 'x', groups: ['visitors'], mfa: { satisfied: true } }), []);
  });
});
