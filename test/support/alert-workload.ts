/**
 * A labelled month of SYNTHETIC activity for the detectors' ground truth (issue 17, "Detection quality"): a few
 * hundred made-up people requesting, being approved and running statements in their usual hours and volumes, with
 * planted episodes of every detector kind and near-misses that must not fire (alert-episodes.ts). Deterministic for
 * a seed. The labels are what the generator planted — it never runs or imports the detectors.
 *
 * The month is June 2026 in America/New_York, which is UTC−4 all month (no daylight-saving change): local times are
 * turned into instants with that fixed offset, independently of the Intl code the detectors use.
 */
import type { AuditRecord } from '../../src/audit/event.js';
import { rec, type Grant } from './alert-records.js';
import { plantEpisodes } from './alert-episodes.js';

export const WORKLOAD_TIME_ZONE = 'America/New_York';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const OFFSET = 4 * HOUR;
/** Monday 1 June 2026, local midnight. */
const MONTH_START = Date.UTC(2026, 5, 1) + OFFSET;
export const DAYS = 30;

export interface RoleSpec {
  readonly rank: number;
  readonly approval: boolean;
  readonly resource: string;
}

export const ROLES: Readonly<Record<string, RoleSpec>> = {
  'clinic-read': { rank: 1, approval: false, resource: 'ehr' },
  'ward-read': { rank: 1, approval: true, resource: 'ehr' },
  'billing-read': { rank: 1, approval: false, resource: 'billing' },
  'lab-read': { rank: 1, approval: true, resource: 'ehr' },
  'pharmacy-read': { rank: 1, approval: false, resource: 'ehr' },
  'records-write': { rank: 2, approval: true, resource: 'ehr' },
  'research-export': { rank: 3, approval: true, resource: 'ehr' },
  'dba-admin': { rank: 5, approval: true, resource: 'ehr' },
  'er-emergency': { rank: 4, approval: false, resource: 'ehr' },
};
const USUAL_ROLES = ['clinic-read', 'ward-read', 'billing-read', 'lab-read', 'records-write'];

export interface Person {
  readonly id: string;
  readonly shift: 'day' | 'night';
  readonly roles: readonly string[];
  readonly approvers: readonly string[];
  readonly statements: number;
  readonly rowsPerStatement: number;
  readonly patients: number;
  readonly address: string;
  readonly ownToken: string;
  readonly familyTokens: readonly string[];
  /** A role held in the first week and used again later (benign: a near-miss for the escalation detectors). */
  secondary?: string;
}

/** What a planted episode is, in the generator's own terms. */
export interface Episode {
  readonly id: string;
  /** The detector kind it plants (recall is counted per this kind). */
  readonly kind: string;
  /** Kinds an alert about this episode may have and still be right (a bulk export is also a volume anomaly). */
  readonly kinds: readonly string[];
  readonly subject: string;
  readonly from: number;
  readonly to: number;
}

export interface NearMiss {
  readonly id: string;
  /** The detector it comes close to. */
  readonly kind: string;
  readonly subject: string;
  readonly from: number;
  readonly to: number;
}

export interface Workload {
  readonly events: readonly { readonly seq: number; readonly record: AuditRecord }[];
  readonly episodes: readonly Episode[];
  readonly nearMisses: readonly NearMiss[];
  readonly benignGrants: number;
  readonly people: readonly Person[];
  readonly restricted: readonly string[];
  /** The detectors' configuration for this organisation (its role ranks); thresholds stay at their defaults. */
  readonly alerts: { readonly escalation: { readonly roleRanks: Readonly<Record<string, number>> } };
  readonly policyHours: { timezone: string; days: string[]; start: string; end: string };
}

export type Random = () => number;

/** mulberry32: small, fast, and the same sequence on every machine. */
export function prng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const between = (rnd: Random, lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
export const pick = <T>(rnd: Random, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
/** A multiplicative wobble around 1 (log-normal-ish, sd ≈ 0.25). */
const wobble = (rnd: Random) => Math.exp((rnd() + rnd() + rnd() - 1.5) * 0.5);

/** Local day (0 = Mon 1 June) and minute of that day → instant. Minutes past 1440 run into the next day. */
export const localTime = (day: number, minute: number) => MONTH_START + day * DAY + minute * MINUTE;
export const isWeekday = (day: number) => day % 7 < 5;

export interface GrantPlan {
  readonly role: string;
  readonly start: number;
  /** Approval delay; approval roles only. */
  readonly delayMs?: number;
  readonly approver?: string;
  /** Multiply usual statements, rows per statement, patients. */
  readonly scale?: { statements?: number; rows?: number; patients?: number };
  /** Minutes over which the statements are spread. */
  readonly useMinutes?: number;
  readonly unused?: boolean;
  readonly emergency?: boolean;
  readonly scopedPatients?: readonly string[];
  /** Extra results appended to the last completion (a look-up of a particular patient, a bulk result). */
  readonly extra?: readonly { rows: number; patients: readonly string[]; fingerprint?: string }[];
  readonly durationMs?: number;
}

export class WorkloadBuilder {
  readonly events: { at: number; record: AuditRecord }[] = [];
  readonly episodes: Episode[] = [];
  readonly nearMisses: NearMiss[] = [];
  benignGrants = 0;
  /** `person@day` given over to a planted episode: no ordinary activity then, so that nothing mixes with it. */
  readonly reserved = new Set<string>();
  private nextId = 0;
  constructor(
    readonly rnd: Random,
    readonly patientPool: readonly string[],
  ) {}

  push(at: number, record: AuditRecord): void {
    this.events.push({ at, record: { ...record, recordedAt: new Date(at).toISOString() } });
  }

  id(prefix: string): string {
    return `${prefix}-${(++this.nextId).toString(36).padStart(6, '0')}-0000-4000-8000-000000000000`;
  }

  /** A request and, unless denied, its grant's whole life: approval, activation, a session's statements, expiry. */
  grant(p: Person, plan: GrantPlan): Grant {
    const spec = ROLES[plan.role]!;
    const g: Grant = {
      id: this.id('r'),
      requester: p.id,
      role: plan.role,
      resource: spec.resource,
      ...(plan.scopedPatients !== undefined ? { patients: plan.scopedPatients } : {}),
      ...(plan.emergency === true ? { emergency: true } : {}),
    };
    const approver = plan.approver ?? pick(this.rnd, p.approvers);
    if (spec.approval && plan.emergency !== true) {
      this.push(plan.start - (plan.delayMs ?? between(this.rnd, 2, 60) * MINUTE), rec.create(0, g));
      this.push(plan.start, rec.approve(0, g, approver));
      this.push(plan.start, rec.activate(0, g, [approver]));
    } else {
      this.push(plan.start, rec.create(0, g));
      this.push(plan.start, rec.activate(0, g, []));
    }
    if (plan.unused !== true) this.use(p, g, plan);
    this.push(plan.start + (plan.durationMs ?? 2 * HOUR), rec.expire(0, g));
    return g;
  }

  private use(p: Person, g: Grant, plan: GrantPlan): void {
    const rnd = this.rnd;
    const n = Math.max(1, Math.round(p.statements * (plan.scale?.statements ?? 1) * wobble(rnd)));
    const k = Math.max(1, Math.round(p.patients * (plan.scale?.patients ?? 1) * wobble(rnd)));
    const patients = Array.from({ length: k }, () => pick(rnd, this.patientPool));
    const span = (plan.useMinutes ?? between(rnd, 40, 70)) * MINUTE;
    const step = span / n;
    this.push(plan.start + 30_000, rec.sessionOpen(0, g));
    let batch: { statementId: string; rows: number; patients: string[] }[] = [];
    let at = plan.start + MINUTE;
    for (let i = 0; i < n; i++) {
      at = plan.start + MINUTE + Math.floor(i * step);
      const statementId = `st${i}`;
      this.push(at, rec.execute(0, g, statementId, 'select * from visits where ward = ?'));
      const rows = Math.max(1, Math.round(p.rowsPerStatement * (plan.scale?.rows ?? 1) * wobble(rnd)));
      const mine = patients.filter((_, j) => Math.floor((j * n) / k) === i);
      batch.push({ statementId, rows, patients: g.patients !== undefined ? [] : mine });
      // The gateway writes a session's completions within 250 ms: statements further apart get a record each.
      if (step >= 250 || batch.length === 200 || i === n - 1) {
        if (i === n - 1) {
          for (const [j, x] of (plan.extra ?? []).entries()) {
            const id = `sx${j}`;
            this.push(at, rec.execute(0, g, id, x.fingerprint ?? 'select * from visits where mrn = ?'));
            batch.push({ statementId: id, rows: x.rows, patients: [...x.patients] });
          }
        }
        this.push(at + 500, rec.complete(0, g, batch));
        batch = [];
      }
    }
    this.push(at + MINUTE, rec.sessionClose(0, g));
  }
}

function makePeople(rnd: Random, count: number): { people: Person[]; approvers: string[] } {
  const approvers = Array.from({ length: 25 }, (_, i) => `https://idp.example#approver-${i}`);
  const people: Person[] = [];
  for (let i = 0; i < count; i++) {
    const first = pick(rnd, USUAL_ROLES);
    const second =
      rnd() < 0.3
        ? pick(
            rnd,
            USUAL_ROLES.filter((r) => r !== first && r !== 'records-write'),
          )
        : undefined;
    people.push({
      id: `https://idp.example#staff-${i}`,
      shift: rnd() < 0.1 ? 'night' : 'day',
      roles: second !== undefined && first !== 'records-write' ? [first, second] : [first],
      approvers: Array.from({ length: 4 }, () => pick(rnd, approvers)),
      statements: between(rnd, 5, 35),
      rowsPerStatement: between(rnd, 5, 120),
      patients: between(rnd, 3, 30),
      address: `10.${Math.floor(i / 250)}.${i % 250}.${between(rnd, 1, 250)}`,
      ownToken: `pt_staff${i}_${Math.floor(rnd() * 1e9).toString(36)}`,
      familyTokens: [
        `pt_family${i}a_${Math.floor(rnd() * 1e9).toString(36)}`,
        `pt_family${i}b_${Math.floor(rnd() * 1e9).toString(36)}`,
      ],
    });
  }
  return { people, approvers };
}

/** Ordinary days: one or two grants per shift, the odd refused sign-in, guard refusal or denied request. */
function benignMonth(b: WorkloadBuilder, people: readonly Person[]): void {
  const rnd = b.rnd;
  for (const p of people) {
    const blockedUntil: Record<string, number> = {};
    for (let day = 0; day < DAYS; day++) {
      if (b.reserved.has(`${p.id}@${day}`)) continue;
      const working = p.shift === 'day' ? isWeekday(day) : (day + p.id.length) % 7 < 5;
      if (!working) continue;
      const slots =
        p.shift === 'day'
          ? [between(rnd, 490, 630), between(rnd, 750, 900)]
          : [between(rnd, 1200, 1350), between(rnd, 1470, 1620)];
      const count = day < 7 || rnd() < 0.4 ? 2 : 1;
      for (const [slot, minute] of slots.slice(0, count).entries()) {
        const start = localTime(day, minute);
        // The first week uses every usual role (they are the person's history); later, any of them.
        let role = day < 7 ? p.roles[(day + slot) % p.roles.length]! : pick(rnd, p.roles);
        if (p.secondary !== undefined && (day === 1 || day === 3) && minute === slots[0]) role = p.secondary;
        if ((blockedUntil[role] ?? 0) > start) continue;
        const spec = ROLES[role]!;
        const planted = b.reserved.has(`${p.id}@${day + 1}`) || b.reserved.has(`${p.id}@${day + 2}`);
        if (spec.approval && role !== p.secondary && !planted && rnd() < 0.02) {
          const g: Grant = { id: b.id('r'), requester: p.id, role, resource: spec.resource };
          b.push(start - 20 * MINUTE, rec.create(0, g));
          b.push(start, rec.deny(0, g, pick(rnd, p.approvers)));
          blockedUntil[role] = start + 2 * DAY;
          continue;
        }
        const g = b.grant(p, { role, start });
        b.benignGrants++;
        if (rnd() < 0.02) b.push(start + 10 * MINUTE, rec.authReject(0, p.address, 'auth.token-expired'));
        if (rnd() < 0.02) {
          b.push(
            start + 5 * MINUTE,
            rec.execute(0, g, 'guarded', 'select pg_read_file(?)', 'guard.forbidden-function'),
          );
        }
        if (rnd() < 0.01)
          b.push(
            start - 5 * MINUTE,
            rec.refusedCreate(
              0,
              { id: '', requester: p.id, role, resource: spec.resource },
              'patients.outside-care-relation',
            ),
          );
      }
    }
  }
}

export function generateWorkload(seed: number, peopleCount = 300): Workload {
  const rnd = prng(seed);
  const patientPool = Array.from(
    { length: 6000 },
    (_, i) => `pt_${i.toString(36)}_${Math.floor(rnd() * 1e12).toString(36)}`,
  );
  const restricted = Array.from(
    { length: 20 },
    (_, i) => `pt_vip${i}_${Math.floor(rnd() * 1e9).toString(36)}`,
  );
  const { people } = makePeople(rnd, peopleCount);
  for (const p of people) {
    if (p.shift === 'day' && rnd() < 0.15) {
      const options = Object.keys(ROLES).filter(
        (r) => !p.roles.includes(r) && ROLES[r]!.rank <= 3 && r !== 'er-emergency',
      );
      p.secondary = pick(rnd, options);
    }
  }
  const b = new WorkloadBuilder(rnd, patientPool);
  plantEpisodes(b, people, restricted);
  benignMonth(b, people);
  b.events.sort((x, y) => x.at - y.at);
  return {
    events: b.events.map((e, i) => ({ seq: i + 1, record: e.record })),
    episodes: b.episodes,
    nearMisses: b.nearMisses,
    benignGrants: b.benignGrants,
    people,
    restricted,
    alerts: {
      escalation: { roleRanks: Object.fromEntries(Object.entries(ROLES).map(([r, s]) => [r, s.rank])) },
    },
    policyHours: {
      timezone: WORKLOAD_TIME_ZONE,
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      start: '08:00',
      end: '18:00',
    },
  };
}
