/** Edge cases of each detector, on hand-made event sequences (the records as phigate writes them). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '../../audit/event.js';
import { rec, type Grant } from '../../../test/support/alert-records.js';
import { createDetectorEngine, type DetectorEngine, type DetectorEngineOptions } from './detector-engine.js';
import type { DetectedAlert } from './detector-kinds.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Monday 2 March 2026, 12:00 UTC = 07:00 in New York (EST, before the 8 March change to EDT). */
const T0 = Date.UTC(2026, 2, 2, 12);
const ZONE = {
  timezone: 'America/New_York',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '08:00',
  end: '18:00',
};
const alice = 'https://idp.example#alice';
const bob = 'https://idp.example#bob';

class Harness {
  readonly engine: DetectorEngine;
  private seq = 0;
  private ids = 0;
  constructor(options: DetectorEngineOptions = {}) {
    this.engine = createDetectorEngine({ policyHours: ZONE, alerts: { learningPeriod: '1s' }, ...options });
    this.feed([rec.authReject(T0, '10.9.9.9', 'auth.warm-up')]); // starts the log clock (and the learning second)
  }
  feed(records: readonly AuditRecord[]): DetectedAlert[] {
    return records.flatMap((record) => this.engine.evaluate({ seq: ++this.seq, record }));
  }
  grantOf(requester: string, role: string, extra: Partial<Grant> = {}): Grant {
    return { id: `r-${++this.ids}`, requester, role, resource: 'ehr', ...extra };
  }
  /** An auto-approved grant used with `statements` statements of `rows` rows each. */
  use(g: Grant, at: number, statements = 3, rows = 10, patients: readonly string[] = []): DetectedAlert[] {
    const records: AuditRecord[] = [rec.create(at, g), rec.activate(at, g, [])];
    for (let i = 0; i < statements; i++) {
      records.push(rec.execute(at + (i + 1) * 1000, g, `s${i}`, 'select * from visits'));
      records.push(
        rec.complete(at + (i + 1) * 1000 + 1, g, [
          { statementId: `s${i}`, rows, patients: i === 0 ? patients : [] },
        ]),
      );
    }
    records.push(rec.expire(at + HOUR, g));
    return this.feed(records);
  }
}

const kinds = (alerts: readonly DetectedAlert[]) => alerts.map((a) => a.kind);
/** Local New York time on a day after T0 (day 0 = Monday 2 March). */
const ny = (day: number, hh: number, mm = 0) => {
  const offset = day >= 6 ? 4 : 5; // EDT from Sunday 8 March
  return Date.UTC(2026, 2, 2 + day, hh + offset, mm);
};

describe('break-glass', () => {
  it('raises a critical alert with evidence, and an overdue review once when nobody closes it', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', breakGlass: { reviewDue: '24h' } } });
    const g = h.grantOf(alice, 'er', { emergency: true, patients: ['pt_a'] });
    const raised = h.feed([rec.create(T0 + MIN, g), rec.activate(T0 + MIN, g, [])]);
    assert.deepEqual(kinds(raised), ['break-glass']);
    assert.equal(raised[0]!.severity, 'critical');
    assert.deepEqual(raised[0]!.evidence, {
      requestId: g.id,
      role: 'er',
      resource: 'ehr',
      purpose: 'ETREAT',
      patientCount: 1,
    });
    assert.deepEqual(h.engine.advance(new Date(T0 + 23 * HOUR)), []);
    const overdue = h.engine.advance(new Date(T0 + 25 * HOUR));
    assert.deepEqual(kinds(overdue), ['break-glass.review-overdue']);
    assert.equal(overdue[0]!.at, new Date(T0 + MIN + 24 * HOUR).toISOString());
    assert.deepEqual(h.engine.advance(new Date(T0 + 48 * HOUR)), []);
  });

  it('a review closed in time (and not a refused close) ends the clock', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', breakGlass: { reviewDue: '24h' } } });
    const g = h.grantOf(alice, 'er', { emergency: true });
    h.feed([rec.create(T0 + MIN, g), rec.activate(T0 + MIN, g, [])]);
    h.feed([{ ...rec.reviewClose(T0 + HOUR, g, bob), outcome: 'refused', reasonCode: 'review.self' }]);
    h.feed([rec.reviewClose(T0 + 2 * HOUR, g, bob)]);
    assert.deepEqual(h.engine.advance(new Date(T0 + 3 * DAY)), []);
  });
});

describe('escalation', () => {
  const ranks = { learningPeriod: '1s', escalation: { roleRanks: { read: 1, other: 1, admin: 5, er: 9 } } };

  it('a role never held alerts; a more privileged one alerts as such; no history, no comparison', () => {
    const h = new Harness({ alerts: ranks });
    h.use(h.grantOf(alice, 'read'), T0 + MIN);
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'read'), T0 + 2 * HOUR)), []);
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'other'), T0 + 3 * HOUR)), ['escalation.new-role']);
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'admin'), T0 + 4 * HOUR)), ['escalation.privileged-role']);
    assert.deepEqual(kinds(h.use(h.grantOf(bob, 'admin'), T0 + 4 * HOUR)), []);
  });

  it('is silent while learning, and break-glass is never a held role', () => {
    const h = new Harness({ alerts: { ...ranks, learningPeriod: '2d' } });
    h.use(h.grantOf(alice, 'read'), T0 + MIN);
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'admin'), T0 + HOUR)), []);
    h.use(h.grantOf(bob, 'read'), T0 + HOUR);
    h.use(h.grantOf(bob, 'er', { emergency: true }), T0 + 2 * HOUR);
    assert.deepEqual(kinds(h.use(h.grantOf(bob, 'admin'), T0 + 3 * DAY)), ['escalation.privileged-role']);
  });

  it('a re-request after a denial alerts once, within the window and for the same role only', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', escalation: { reRequestWindow: '2h' } } });
    const denied = h.grantOf(alice, 'read');
    h.feed([rec.create(T0 + MIN, denied), rec.deny(T0 + 2 * MIN, denied, bob)]);
    assert.deepEqual(kinds(h.feed([rec.create(T0 + 3 * MIN, h.grantOf(alice, 'other'))])), []);
    const again = h.feed([rec.create(T0 + HOUR, h.grantOf(alice, 'read'))]);
    assert.deepEqual(kinds(again), ['escalation.re-request']);
    assert.equal(again[0]!.evidence['deniedRequestId'], denied.id);
    assert.deepEqual(kinds(h.feed([rec.create(T0 + 90 * MIN, h.grantOf(alice, 'read'))])), []);
    const late = h.grantOf(bob, 'read');
    h.feed([rec.create(T0 + 100 * MIN, late), rec.deny(T0 + 101 * MIN, late, alice)]);
    assert.deepEqual(
      kinds(h.feed([rec.create(T0 + 101 * MIN + 2 * HOUR + 1000, h.grantOf(bob, 'read'))])),
      [],
    );
  });

  it('an approval within seconds alerts about the approver; one after the threshold does not', () => {
    const h = new Harness();
    const fast = h.grantOf(alice, 'read');
    const raised = h.feed([rec.create(T0 + MIN, fast), rec.approve(T0 + MIN + 5000, fast, bob)]);
    assert.deepEqual(kinds(raised), ['escalation.fast-approval']);
    assert.equal(raised[0]!.subject, bob);
    assert.equal(raised[0]!.evidence['secondsToApprove'], 5);
    const slow = h.grantOf(alice, 'read');
    assert.deepEqual(
      kinds(h.feed([rec.create(T0 + HOUR, slow), rec.approve(T0 + HOUR + 15_000, slow, bob)])),
      [],
    );
  });

  it('rubber-stamping: the count-th approval of one requester by one approver within the window', () => {
    const h = new Harness({
      alerts: { learningPeriod: '1s', escalation: { rubberStampCount: 3, rubberStampWindow: '1h' } },
    });
    const approve = (at: number, requester = alice) => {
      const g = h.grantOf(requester, 'read');
      return kinds(h.feed([rec.create(at, g), rec.approve(at + 5 * MIN, g, bob)]));
    };
    assert.deepEqual(approve(T0), []);
    assert.deepEqual(approve(T0 + 10 * MIN), []);
    assert.deepEqual(approve(T0 + 20 * MIN, 'https://idp.example#carol'), []);
    assert.deepEqual(approve(T0 + 30 * MIN), ['escalation.rubber-stamp']);
    // The window slides: two more within the hour are not yet three.
    assert.deepEqual(approve(T0 + 2 * HOUR), []);
    assert.deepEqual(approve(T0 + 4 * HOUR), []);
  });
});

describe('off-hours', () => {
  const habit = (h: Harness, person: string, role: string, hour: number) => {
    for (let day = 0; day < 5; day++) h.use(h.grantOf(person, role), ny(day, hour));
  };

  it('learns a role used in hours and alerts on its use at night, in the policy time zone across DST', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', offHours: { minGrants: 5 } } });
    habit(h, alice, 'read', 10);
    // Monday 9 March, after the change to EDT: 07:45 is within the 30-minute grace, 23:00 is not.
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'read'), ny(7, 7, 45))), []);
    const night = h.use(h.grantOf(alice, 'read'), ny(7, 23));
    assert.deepEqual(kinds(night), ['off-hours']);
    assert.equal(night[0]!.evidence['localTime'], 'mon 23:00');
  });

  it('a night-shift habit, an exempt role and too short a history do not alert', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', offHours: { exemptRoles: ['oncall'] } } });
    habit(h, alice, 'read', 23);
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'read'), ny(7, 23))), []);
    habit(h, bob, 'oncall', 10);
    assert.deepEqual(kinds(h.use(h.grantOf(bob, 'oncall'), ny(7, 2))), []);
    h.use(h.grantOf(bob, 'read'), ny(1, 10));
    assert.deepEqual(kinds(h.use(h.grantOf(bob, 'read'), ny(7, 2))), []);
  });

  it('a grant taken in hours and used at night alerts at its first statement outside hours, once', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', offHours: { inHoursRoles: ['read'] } } });
    const g = h.grantOf(alice, 'read');
    const start = ny(1, 17);
    h.feed([rec.create(start, g), rec.activate(start, g, [])]);
    assert.deepEqual(kinds(h.feed([rec.execute(start + HOUR, g, 's1', 'select 1')])), []);
    assert.deepEqual(kinds(h.feed([rec.execute(start + 2 * HOUR, g, 's2', 'select 1')])), ['off-hours']);
    assert.deepEqual(kinds(h.feed([rec.execute(start + 3 * HOUR, g, 's3', 'select 1')])), []);
  });
});

describe('volume and bulk export', () => {
  const options = { alerts: { learningPeriod: '1s', volume: { minSamples: 5 } } };
  const baseline = (h: Harness) => {
    for (let i = 0; i < 6; i++) h.use(h.grantOf(alice, 'read'), T0 + i * 2 * HOUR, 10, 20);
  };

  it('a grant far above the person’s baseline alerts once (per scope); a busier one does not', () => {
    const h = new Harness(options);
    baseline(h);
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'read'), T0 + 20 * HOUR, 20, 20)), []);
    const spike = h.use(h.grantOf(alice, 'read'), T0 + 30 * HOUR, 60, 20);
    assert.deepEqual(kinds(spike), ['volume.above-baseline', 'volume.above-baseline']);
    assert.deepEqual(
      spike.map((a) => [a.evidence['scope'], a.evidence['metric']]),
      [
        ['grant', 'statements'],
        ['hour', 'statements'],
      ],
    );
    assert.equal(spike[0]!.evidence['median'], 10);
  });

  it('ceilings hold without a baseline, even while learning', () => {
    const h = new Harness({
      alerts: { learningPeriod: '30d', volume: { grantCeiling: { rows: 100 }, hourCeiling: { rows: 1000 } } },
    });
    const raised = h.use(h.grantOf(alice, 'read'), T0 + MIN, 3, 40);
    assert.deepEqual(kinds(raised), ['volume.ceiling']);
    assert.deepEqual(raised[0]!.evidence, {
      requestId: 'r-1',
      role: 'read',
      scope: 'grant',
      metric: 'rows',
      value: 120,
      ceiling: 100,
    });
  });

  it('COPY … TO STDOUT and a result over bulkRows are bulk exports; COPY … FROM STDIN is not', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', volume: { bulkRows: 1000 } } });
    const g = h.grantOf(alice, 'read');
    h.feed([rec.create(T0 + MIN, g), rec.activate(T0 + MIN, g, [])]);
    assert.deepEqual(kinds(h.feed([rec.execute(T0 + 2 * MIN, g, 'a', 'COPY staging FROM STDIN')])), []);
    const copy = h.feed([
      rec.execute(T0 + 3 * MIN, g, 'b', 'copy (select * from visits) to stdout with csv'),
    ]);
    assert.deepEqual(
      copy.map((a) => [a.kind, a.evidence['how']]),
      [['bulk-export', 'copy-to-stdout']],
    );
    const big = h.feed([rec.complete(T0 + 4 * MIN, g, [{ statementId: 'c', rows: 1001, patients: [] }])]);
    assert.deepEqual(
      big.map((a) => [a.kind, a.evidence['rows']]),
      [['bulk-export', 1001]],
    );
  });
});

describe('restricted, self and family look-ups', () => {
  const lookups = {
    isRestricted: (t: string) => t === 'pt_vip',
    relationOf: (person: string, t: string) =>
      person === alice && t === 'pt_alice'
        ? ('self' as const)
        : person === alice && t === 'pt_son'
          ? ('family' as const)
          : undefined,
  };

  it('a patient-scoped grant naming a restricted patient alerts once, however many statements name them', () => {
    const h = new Harness({ lookups });
    const raised = h.use(h.grantOf(bob, 'read', { patients: ['pt_vip', 'pt_x'] }), T0 + MIN, 5);
    assert.deepEqual(kinds(raised), ['restricted-patient']);
    assert.deepEqual(raised[0]!.evidence['patientTokens'], ['pt_vip']);
    assert.equal(raised[0]!.severity, 'critical');
  });

  it('results naming the requester’s own or family record alert; someone else’s own record does not', () => {
    const h = new Harness({ lookups });
    assert.deepEqual(kinds(h.use(h.grantOf(alice, 'read'), T0 + MIN, 2, 1, ['pt_son', 'pt_alice'])), [
      'self-lookup',
      'family-lookup',
    ]);
    assert.deepEqual(kinds(h.use(h.grantOf(bob, 'read'), T0 + MIN, 2, 1, ['pt_alice'])), []);
  });
});

describe('probing', () => {
  it('refused sign-ins from one address (aggregated records count their repeats) alert once per window', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', probing: { threshold: 5, window: '10m' } } });
    assert.deepEqual(kinds(h.feed([rec.authReject(T0 + MIN, '192.0.2.7', 'auth.invalid-token', 3)])), []);
    assert.deepEqual(kinds(h.feed([rec.authReject(T0 + 2 * MIN, '192.0.2.7', 'auth.invalid-token')])), []);
    const raised = h.feed([rec.authReject(T0 + 3 * MIN, '192.0.2.7', 'auth.expired')]);
    assert.deepEqual(kinds(raised), ['probing']);
    assert.equal(raised[0]!.subject, 'address:192.0.2.7');
    assert.deepEqual(raised[0]!.evidence['reasonCodes'], ['auth.invalid-token', 'auth.expired']);
    assert.equal(raised[0]!.evidence['count'], 5);
    const more = Array.from({ length: 5 }, (_, i) =>
      rec.authReject(T0 + 4 * MIN + i * 1000, '192.0.2.7', 'auth.expired'),
    );
    assert.deepEqual(kinds(h.feed(more)), []);
  });

  it('refusals spread wider than the window, or too few, do not alert; guard and care-relation refusals count', () => {
    const h = new Harness({ alerts: { learningPeriod: '1s', probing: { threshold: 3, window: '5m' } } });
    const g = h.grantOf(alice, 'read');
    const spread = [0, 6, 12].map((m) =>
      rec.execute(T0 + m * MIN, g, `q${m}`, 'select pg_read_file(?)', 'guard.forbidden-function'),
    );
    assert.deepEqual(kinds(h.feed(spread)), []);
    const mixed = [
      rec.execute(T0 + 20 * MIN, g, 'q', 'select pg_read_file(?)', 'guard.forbidden-function'),
      rec.sessionRefuse(T0 + 21 * MIN, alice, 'ehr'),
      rec.refusedCreate(T0 + 22 * MIN, g, 'patients.outside-care-relation'),
    ];
    const raised = h.feed(mixed);
    assert.deepEqual(kinds(raised), ['probing']);
    assert.equal(raised[0]!.subject, alice);
  });
});
