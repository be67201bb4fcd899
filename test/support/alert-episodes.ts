/**
 * The planted episodes of the labelled alert workload (alert-workload.ts), one function per detector kind, each
 * recording its own label — and the near-misses, which look like an episode but are ordinary: a review closed just
 * in time, a re-request the day after, an approval in under a minute, a role held in the first week used again, a
 * shift that starts just before hours, a busier day than usual, an import rather than an export, a colleague's
 * record, a few refusals. Episodes start after the first week, when the detectors have finished learning.
 */
import { rec, type Grant } from './alert-records.js';
import {
  between,
  isWeekday,
  localTime,
  pick,
  ROLES,
  type Episode,
  type NearMiss,
  type Person,
  type WorkloadBuilder,
} from './alert-workload.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Episodes of each kind planted (and near-misses of each). */
const PER_KIND = 24;
/** From this day (0 = 1 June) on, past the detectors' learning week. */
const FIRST_DAY = 8;

type Plant = (b: WorkloadBuilder, p: Person, day: number) => void;

/** A weekday after the learning week on which this person (and, with `span` 2, the next day) has no episode yet. */
function freeDay(b: WorkloadBuilder, p: Person, span: 1 | 2): number | undefined {
  // (Computed here, not at module level: this module and alert-workload.ts import each other.)
  const laterWeekdays = Array.from({ length: 20 }, (_, i) => FIRST_DAY + i).filter(isWeekday);
  const free = laterWeekdays.filter(
    (d) => !b.reserved.has(`${p.id}@${d}`) && (span === 1 || !b.reserved.has(`${p.id}@${d + 1}`)),
  );
  return free.length === 0 ? undefined : pick(b.rnd, free);
}

/** Late afternoon, after a day shift's ordinary grants and before hours end. */
const lateAfternoon = (b: WorkloadBuilder, day: number) => localTime(day, between(b.rnd, 965, 1000));
const approvalRole = (p: Person) => p.roles.find((r) => ROLES[r]!.approval);

function episode(
  b: WorkloadBuilder,
  kind: string,
  subject: string,
  from: number,
  to: number,
  also: string[] = [],
): void {
  b.episodes.push({
    id: `${kind}#${b.episodes.length}`,
    kind,
    kinds: [kind, ...also],
    subject,
    from,
    to: to + 5 * MINUTE,
  } satisfies Episode);
}
function nearMiss(b: WorkloadBuilder, kind: string, subject: string, from: number, to: number): void {
  b.nearMisses.push({
    id: `${kind}~${b.nearMisses.length}`,
    kind,
    subject,
    from,
    to: to + 5 * MINUTE,
  } satisfies NearMiss);
}

const breakGlass: Plant = (b, p, day) => {
  const start = localTime(day, between(b.rnd, 0, 1439));
  const g = b.grant(p, { role: 'er-emergency', start, emergency: true, durationMs: HOUR });
  b.push(start + between(b.rnd, 1, 48) * HOUR, rec.reviewClose(0, g, 'https://idp.example#privacy-officer'));
  episode(b, 'break-glass', p.id, start, start);
};

const reviewOverdue: Plant = (b, p, day) => {
  const start = localTime(day - 4, between(b.rnd, 0, 1439));
  b.grant(p, { role: 'er-emergency', start, emergency: true, durationMs: HOUR });
  episode(b, 'break-glass', p.id, start, start);
  episode(b, 'break-glass.review-overdue', p.id, start + 72 * HOUR, start + 72 * HOUR + 2 * MINUTE);
};

const reviewInTime: Plant = (b, p, day) => {
  const start = localTime(day - 4, between(b.rnd, 0, 1439));
  const g = b.grant(p, { role: 'er-emergency', start, emergency: true, durationMs: HOUR });
  b.push(start + between(b.rnd, 60, 70) * HOUR, rec.reviewClose(0, g, 'https://idp.example#privacy-officer'));
  episode(b, 'break-glass', p.id, start, start);
  nearMiss(b, 'break-glass.review-overdue', p.id, start + 60 * HOUR, start + 74 * HOUR);
};

const newRole: Plant = (b, p, day) => {
  const role = pick(
    b.rnd,
    ['clinic-read', 'billing-read', 'pharmacy-read', 'lab-read', 'ward-read'].filter(
      (r) => !p.roles.includes(r) && r !== p.secondary,
    ),
  );
  const start = lateAfternoon(b, day);
  b.grant(p, { role, start });
  episode(b, 'escalation.new-role', p.id, start - HOUR, start);
};

const privileged: Plant = (b, p, day) => {
  const role = pick(
    b.rnd,
    ['research-export', 'dba-admin'].filter((r) => r !== p.secondary),
  );
  const start = lateAfternoon(b, day);
  b.grant(p, { role, start });
  episode(b, 'escalation.privileged-role', p.id, start - HOUR, start);
};

/** Denied, then asked again within hours (planted) or only the next afternoon (near-miss). */
const denied =
  (nextDay: boolean): Plant =>
  (b, p, day) => {
    const role = approvalRole(p)!;
    const g: Grant = { id: b.id('r'), requester: p.id, role, resource: ROLES[role]!.resource };
    const at = localTime(day, between(b.rnd, 660, 700));
    b.push(at - 15 * MINUTE, rec.create(0, g));
    b.push(at, rec.deny(0, g, p.approvers[0]!));
    // The next working day (a Friday's denial is asked again on Monday): still more than the window later.
    const next = day % 7 === 4 ? day + 3 : day + 1;
    b.reserved.add(`${p.id}@${next}`);
    const again = nextDay
      ? localTime(next, between(b.rnd, 960, 1000))
      : at + between(b.rnd, 10, 300) * MINUTE;
    b.grant(p, { role, start: again + 10 * MINUTE, delayMs: 10 * MINUTE });
    if (nextDay) nearMiss(b, 'escalation.re-request', p.id, at, again + 10 * MINUTE);
    else episode(b, 'escalation.re-request', p.id, again, again);
  };

const approvedIn =
  (seconds: readonly [number, number], planted: boolean): Plant =>
  (b, p, day) => {
    const role = approvalRole(p)!;
    const start = lateAfternoon(b, day);
    const approver = pick(b.rnd, p.approvers);
    b.grant(p, { role, start, approver, delayMs: between(b.rnd, seconds[0], seconds[1]) * 1000 });
    if (planted) episode(b, 'escalation.fast-approval', approver, start, start);
    else nearMiss(b, 'escalation.fast-approval', approver, start, start);
  };

const approvedRepeatedly =
  (times: number, planted: boolean): Plant =>
  (b, p, day) => {
    const role = approvalRole(p)!;
    const approver = p.approvers[1]!;
    const first = localTime(day, 540);
    let start = first;
    for (let i = 0; i < times; i++) {
      start = first + i * between(b.rnd, 40, 50) * MINUTE;
      b.grant(p, {
        role,
        start,
        approver,
        delayMs: between(b.rnd, 3, 10) * MINUTE,
        unused: true,
        durationMs: 30 * MINUTE,
      });
    }
    if (planted) episode(b, 'escalation.rubber-stamp', approver, first, start);
    else nearMiss(b, 'escalation.rubber-stamp', approver, first, start);
  };

const offHours: Plant = (b, p, day) => {
  const weekend = b.rnd() < 0.3;
  const d = weekend ? day - (day % 7) + 5 : day;
  const start = weekend ? localTime(d, between(b.rnd, 600, 900)) : localTime(d, between(b.rnd, 1290, 1700));
  const role = p.roles[0]!;
  b.grant(p, { role, start, delayMs: 15 * MINUTE });
  episode(b, 'off-hours', p.id, start, start + 2 * HOUR);
};

const earlyStart: Plant = (b, p, day) => {
  const start = localTime(day, between(b.rnd, 455, 470));
  b.grant(p, { role: p.roles[0]!, start, useMinutes: 30, delayMs: 5 * MINUTE });
  nearMiss(b, 'off-hours', p.id, start, start + HOUR);
};

const busier =
  (factor: number, planted: boolean): Plant =>
  (b, p, day) => {
    const start = lateAfternoon(b, day);
    const metric = pick(b.rnd, ['statements', 'patients'] as const);
    b.grant(p, { role: p.roles[0]!, start, useMinutes: 40, scale: { [metric]: factor } });
    if (planted) episode(b, 'volume.above-baseline', p.id, start, start + HOUR);
    else nearMiss(b, 'volume.above-baseline', p.id, start, start + HOUR);
  };

const overCeiling: Plant = (b, p, day) => {
  const start = lateAfternoon(b, day);
  const extra = Array.from({ length: 24 }, () => ({ rows: 9_500, patients: [] as string[] }));
  b.grant(p, { role: p.roles[0]!, start, useMinutes: 40, extra });
  episode(b, 'volume.ceiling', p.id, start, start + HOUR, ['volume.above-baseline']);
};

const bulkExport: Plant = (b, p, day) => {
  const start = lateAfternoon(b, day);
  const extra =
    b.rnd() < 0.5
      ? [
          {
            rows: 800,
            patients: [],
            fingerprint: 'COPY (select * from visits where ward = ?) TO STDOUT WITH CSV',
          },
        ]
      : [{ rows: between(b.rnd, 12_000, 40_000), patients: [] }];
  b.grant(p, { role: p.roles[0]!, start, useMinutes: 40, extra });
  episode(b, 'bulk-export', p.id, start, start + HOUR, ['volume.above-baseline']);
};

const importNotExport: Plant = (b, p, day) => {
  const start = lateAfternoon(b, day);
  b.grant(p, {
    role: p.roles[0]!,
    start,
    useMinutes: 40,
    extra: [{ rows: 300, patients: [], fingerprint: 'COPY staging FROM STDIN' }],
  });
  nearMiss(b, 'bulk-export', p.id, start, start + HOUR);
};

const looksUp =
  (kind: string, token: (p: Person) => string, planted: boolean): Plant =>
  (b, p, day) => {
    const start = lateAfternoon(b, day);
    const scoped = b.rnd() < 0.3;
    const patient = token(p);
    b.grant(
      p,
      scoped
        ? { role: p.roles[0]!, start, scopedPatients: [patient], useMinutes: 30 }
        : { role: p.roles[0]!, start, useMinutes: 30, extra: [{ rows: 1, patients: [patient] }] },
    );
    if (planted) episode(b, kind, p.id, start - HOUR, start + HOUR);
    else nearMiss(b, kind, p.id, start - HOUR, start + HOUR);
  };

/** Refusals from one source within minutes: `n` of them (5+ planted, 3 a near-miss). */
const refusals =
  (n: number, planted: boolean): Plant =>
  (b, p, day) => {
    const start = localTime(day, between(b.rnd, 0, 1439));
    const variant = between(b.rnd, 0, 3);
    const address = `192.0.2.${between(b.rnd, 1, 254)}`;
    const subject = variant === 0 ? `address:${address}` : p.id;
    let at = start;
    for (let i = 0; i < n; i++) {
      at = start + i * between(b.rnd, 20, 90) * 1000;
      const role = p.roles[0]!;
      const g: Grant = { id: b.id('p'), requester: p.id, role, resource: ROLES[role]!.resource };
      if (variant === 0) b.push(at, rec.authReject(0, address, 'auth.invalid-token'));
      else if (variant === 1)
        b.push(at, rec.execute(0, g, `q${i}`, 'select pg_read_file(?)', 'guard.forbidden-function'));
      else if (variant === 2) b.push(at, rec.sessionRefuse(0, p.id, 'ehr'));
      else b.push(at, rec.refusedCreate(0, g, 'patients.outside-care-relation'));
    }
    if (planted) episode(b, 'probing', subject, start, at);
    else nearMiss(b, 'probing', subject, start, at);
  };

export function plantEpisodes(
  b: WorkloadBuilder,
  people: readonly Person[],
  restricted: readonly string[],
): void {
  const dayShift = people.filter((p) => p.shift === 'day');
  const withApproval = dayShift.filter((p) => approvalRole(p) !== undefined);
  const coworker = (p: Person) => people[(people.indexOf(p) + 1) % people.length]!.ownToken;
  const plans: [Plant, readonly Person[]][] = [
    [breakGlass, people],
    [reviewOverdue, people],
    [reviewInTime, people],
    [newRole, dayShift],
    [privileged, dayShift],
    [denied(false), withApproval],
    [denied(true), withApproval],
    [approvedIn([2, 8], true), withApproval],
    [approvedIn([25, 60], false), withApproval],
    [approvedRepeatedly(11, true), withApproval],
    [approvedRepeatedly(5, false), withApproval],
    [offHours, dayShift],
    [earlyStart, dayShift],
    [busier(9, true), dayShift],
    [busier(1.5, false), dayShift],
    [overCeiling, dayShift],
    [bulkExport, dayShift],
    [importNotExport, dayShift],
    [looksUp('restricted-patient', () => pick(b.rnd, restricted), true), dayShift],
    [looksUp('self-lookup', (p) => p.ownToken, true), dayShift],
    [looksUp('family-lookup', (p) => pick(b.rnd, p.familyTokens), true), dayShift],
    [looksUp('self-lookup', coworker, false), dayShift],
    [refusals(6, true), people],
    [refusals(3, false), people],
  ];
  for (const [plant, candidates] of plans) {
    // Each kind's episodes go to different people: one person's second off-hours grant is a habit, not an episode.
    const chosen = new Set<Person>();
    const wanted = Math.min(PER_KIND, candidates.length);
    for (let attempt = 0; chosen.size < wanted && attempt < 100 * wanted; attempt++) {
      const p = pick(b.rnd, candidates);
      const day = chosen.has(p) ? undefined : freeDay(b, p, 2);
      if (day === undefined) continue;
      chosen.add(p);
      // The episode's day (and the next, which a re-request may reach) is the episode's alone.
      b.reserved.add(`${p.id}@${day}`);
      b.reserved.add(`${p.id}@${day + 1}`);
      plant(b, p, day);
    }
  }
  // People who held a role in their first week use it again later: no new-role or privileged alert.
  for (const p of dayShift) {
    if (p.secondary === undefined) continue;
    const day = freeDay(b, p, 1);
    if (day === undefined) continue;
    b.reserved.add(`${p.id}@${day}`);
    const start = lateAfternoon(b, day);
    b.grant(p, { role: p.secondary, start });
    nearMiss(
      b,
      ROLES[p.secondary]!.rank > 1 ? 'escalation.privileged-role' : 'escalation.new-role',
      p.id,
      start - HOUR,
      start,
    );
  }
}
