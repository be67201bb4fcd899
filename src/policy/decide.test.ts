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

  it('refuses a requester it cannot link when the rule requires persons (person.unknown), and only then', () => {
    const strict = compilePolicyOrThrow(
      readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8').replace(
        'one-lead:\n    approvers: { groups: [clinical-leads], count: 1, requireMfa: true }',
        'one-lead:\n    approvers: { groups: [clinical-leads], count: 1, requireMfa: true, requirePerson: true }',
      ),
      'strict.yaml',
    );
    const refused = strict.decide(input({}));
    assert.equal(refused.outcome, 'deny');
    assert.deepEqual(
      refused.reasons.map((r) => r.code),
      ['person.unknown'],
    );
    const known = strict.decide(input({}, { principal: { ...dan, personKeys: ['email:pk_dan'] } }));
    assert.equal(known.outcome, 'needs-approval');
    assert.ok(known.outcome === 'needs-approval' && known.requirement.requirePerson);
    assert.equal(
      policy.decide(input({})).outcome,
      'needs-approval',
      'without requirePerson, keys are not asked',
    );
  });

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
      ['care-team-chart', 'oncall-breakglass', 'physician-chart-review'],
    );
    assert.deepEqual(policy.rolesFor({ id: 'x', groups: ['visitors'], mfa: { satisfied: true } }), []);
  });
  it('fails closed when the time already granted is unknown (NaN or negative chainedMs)', () => {
    for (const chainedMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      assert.deepEqual(codes(input({}, { chainedMs })), ['duration.chain-unknown'], String(chainedMs));
    }
  });

  it('names the chain limit and what was already granted', () => {
    const [reason] = policy.decide(
      input({ durationMs: 2 * 3_600_000 }, { chainedMs: 7 * 3_600_000 }),
    ).reasons;
    assert.deepEqual(reason?.details, { limitMs: 8 * 3_600_000, chainedMs: 7 * 3_600_000 });
    assert.match(reason?.message ?? '', /8h.*7h already granted/);
  });

  it('accepts a chain that reaches the cumulative maximum exactly', () => {
    assert.equal(
      policy.decide(input({ durationMs: 3_600_000 }, { chainedMs: 7 * 3_600_000 })).outcome,
      'needs-approval',
    );
  });

  it('denies a role asked for on another resource', () => {
    const other = compilePolicyOrThrow(
      readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8').replace(
        'resources:\n',
        'resources:\n  billing-db: { kind: postgres }\n',
      ),
      'x.yaml',
    );
    assert.deepEqual(
      other.decide(input({ resource: 'billing-db' })).reasons.map((r) => r.code),
      ['role.wrong-resource'],
    );
  });

  it('denies patient ids on a role without patient scope', () => {
    const alice = { id: 'dev#alice', groups: ['physicians'], mfa: { satisfied: true } };
    const withScopeNone = compilePolicyOrThrow(
      readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8').replace(
        'patientScope: required\n    approval: two-leads',
        'patientScope: none\n    approval: two-leads',
      ),
      'x.yaml',
    );
    const d = withScopeNone.decide({
      principal: alice,
      request: { ...analystRequest, role: 'physician-chart-review', purpose: 'TREAT' },
      now: WEDNESDAY_NOON_NY,
      chainedMs: 0,
    });
    assert.deepEqual(
      d.reasons.map((r) => r.code),
      ['patients.not-allowed'],
    );
  });

  for (const [what, ids] of [
    ['an empty patient id', ['']],
    ['a patient id with surrounding spaces', [' MRN-1']],
    ['a 65-character patient id', ['M'.repeat(65)]],
    ['"any" patient', ['any']],
    ['a single-character LIKE wildcard', ['_']],
    ['a wildcard among real ids', ['MRN-1', 'MRN-*']],
  ] as const) {
    it(`denies ${what} as patients.invalid`, () => {
      assert.deepEqual(codes(input({ patientIds: ids })), ['patients.invalid']);
    });
  }

  it('accepts justifications of exactly the minimum and the maximum length, and names the cap above it', () => {
    assert.equal(policy.decide(input({ justification: 'x'.repeat(10) })).outcome, 'needs-approval');
    assert.equal(policy.decide(input({ justification: 'x'.repeat(2000) })).outcome, 'needs-approval');
    const [reason] = policy.decide(input({ justification: 'x'.repeat(2001) })).reasons;
    assert.equal(reason?.code, 'justification.too-long');
    assert.deepEqual(reason?.details, { limit: 2000 });
    assert.match(reason?.message ?? '', /2000/);
  });

  it('does not echo a huge or hostile value back in full', () => {
    const [reason] = policy.decide(input({ purpose: `X${'\u202e'.repeat(100_000)}` })).reasons;
    assert.equal(reason?.code, 'purpose.unknown');
    assert.ok((reason?.message.length ?? 0) < 200);
  });

  it('lists every reason, in a fixed order', () => {
    const alice = { id: 'dev#alice', groups: ['support'], mfa: { satisfied: false } };
    const request = { purpose: 'TREAT', justification: 'short', durationMs: 5 * 3_600_000, patientIds: [] };
    const expected = [
      'role.not-eligible',
      'purpose.not-allowed',
      'justification.too-short',
      'duration.over-max',
      'patients.required',
    ];
    assert.deepEqual(codes(input(request, { principal: alice })), expected);
    assert.deepEqual(codes(input(request, { principal: alice })), expected);
  });

  it("requires the requester's MFA only where the role asks for it", () => {
    assert.equal(policy.decide(input({})).outcome, 'needs-approval'); // dan has no MFA; analyst role does not ask
  });
  describe('auto-approval conditions: every listed criterion must hold', () => {
    const rules = compilePolicyOrThrow(
      `version: 1
settings: { timezone: Europe/Berlin, businessHours: { days: [mon, tue, wed, thu, fri], start: '08:00', end: '18:00' } }
resources: { db: { kind: postgres } }
approvalRules:
  r:
    autoApprove:
      - { groups: [support], maxDuration: 30m, businessHoursOnly: true, purposes: [HOPERAT] }
      - { groups: [sre], purposes: [HSYSADMIN] }
    approvers: { groups: [leads] }
roles:
  ops:
    resource: db
    eligibleGroups: [support, sre, analysts]
    duration: { default: 15m, max: 2h }
    purposes: [HOPERAT, HSYSADMIN]
    approval: r
`,
      'rules.yaml',
    );
    // Wednesday 2026-01-07 10:00 in Berlin (UTC+1).
    const base: DecisionInput = {
      principal: { id: 'u', groups: ['support'], mfa: { satisfied: false } },
      request: {
        ...analystRequest,
        resource: 'db',
        role: 'ops',
        purpose: 'HOPERAT',
        durationMs: 1_800_000,
        patientIds: [],
      },
      now: new Date('2026-01-07T09:00:00Z'),
      chainedMs: 0,
    };
    const outcome = (
      change: Omit<Partial<DecisionInput>, 'request'> & { request?: Partial<RequestFacts> },
    ): string => {
      const d = rules.decide({ ...base, ...change, request: { ...base.request, ...change.request } });
      return d.outcome === 'allow' ? `allow:${d.mode}` : d.outcome;
    };
    it('allows when all hold, naming the condition', () => {
      const d = rules.decide(base);
      assert.ok(d.outcome === 'allow' && d.mode === 'auto');
      assert.deepEqual(d.reasons[0]?.details, { rule: 'r', condition: 1 });
    });
    it('needs approval as soon as any one criterion fails', () => {
      assert.equal(outcome({ principal: { ...base.principal, groups: ['analysts'] } }), 'needs-approval');
      assert.equal(outcome({ request: { durationMs: 1_800_001 } }), 'needs-approval');
      assert.equal(outcome({ request: { purpose: 'HSYSADMIN' } }), 'needs-approval');
      assert.equal(outcome({ now: new Date('2026-01-07T17:00:00Z') }), 'needs-approval'); // 18:00 Berlin
    });
    it('treats the window as [start, end) in local time', () => {
      assert.equal(outcome({ now: new Date('2026-01-07T07:00:00Z') }), 'allow:auto'); // 08:00
      assert.equal(outcome({ now: new Date('2026-01-07T06:59:00Z') }), 'needs-approval'); // 07:59
      assert.equal(outcome({ now: new Date('2026-01-07T16:59:00Z') }), 'allow:auto'); // 17:59
    });
    it('follows the autumn clock change in the policy time zone', () => {
      // Friday 2026-10-23 is CEST (UTC+2); Monday 2026-10-26 is CET (UTC+1): one UTC time, two local times.
      assert.equal(outcome({ now: new Date('2026-10-23T06:30:00Z') }), 'allow:auto'); // 08:30 CEST
      assert.equal(outcome({ now: new Date('2026-10-26T06:30:00Z') }), 'needs-approval'); // 07:30 CET
      assert.equal(outcome({ now: new Date('2026-10-23T16:30:00Z') }), 'needs-approval'); // 18:30 CEST
      assert.equal(outcome({ now: new Date('2026-10-26T16:30:00Z') }), 'allow:auto'); // 17:30 CET
    });
    it('any one condition suffices; a condition without businessHoursOnly applies at night', () => {
      const sre = {
        principal: { ...base.principal, groups: ['sre'] },
        now: new Date('2026-01-10T02:00:00Z'),
      };
      const d = rules.decide({ ...base, ...sre, request: { ...base.request, purpose: 'HSYSADMIN' } });
      assert.ok(d.outcome === 'allow' && d.mode === 'auto');
      assert.deepEqual(d.reasons[0]?.details, { rule: 'r', condition: 2 });
    });
  });
});
