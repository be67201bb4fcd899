/**
 * The detector engine: audit events in, alerts out, in log order. Pure — no I/O and no clock: time is each event's
 * `recordedAt` (or the instant given to `advance`), so evaluating the same log from the same state raises the same
 * alerts with the same keys on any replica. The state is plain JSON (`snapshot`), bounded (engine-state.ts), and
 * meant to be stored with the log position it reflects, in the transaction that stores the alerts raised.
 */
import type { DetectedAlert } from './detector-kinds.js';
import { parseAlertsConfig, type AlertsConfig } from './detect-config.js';
import {
  createRaise,
  NO_LOOKUPS,
  type DetectContext,
  type DetectorLookups,
  type EventInput,
} from './detect-context.js';
import { emptyState, restoreState, type EngineState, type PersonState } from './engine-state.js';
import { createLocalHours, minuteOfDay, type LocalHours } from './local-hours.js';
import { raiseOverdueReviews } from './detect-break-glass.js';
import { sweepProbes } from './detect-probing.js';
import { closePastHours } from './detect-volume.js';
import { sweepRequests } from './request-tracker.js';
import { dispatch } from './dispatch.js';

export interface BusinessHoursSetting {
  readonly timezone: string;
  readonly days: readonly string[];
  /** `HH:MM`. */
  readonly start: string;
  readonly end: string;
}

export interface DetectorEngineOptions {
  /** The policy's `alerts:` section (parsed here; defaults when absent). */
  readonly alerts?: unknown;
  /** The policy's own business hours, used unless `alerts` names others. */
  readonly policyHours?: BusinessHoursSetting;
  readonly lookups?: DetectorLookups;
  /** State read back from storage (`snapshot()` of an earlier engine). */
  readonly state?: string;
}

export interface DetectorEngine {
  /** Evaluates one event (events must come in log order; an event at or before the last seq is ignored). */
  evaluate(event: EventInput): DetectedAlert[];
  /** Lets log time pass without an event (a quiet log): raises what became due, such as overdue reviews. */
  advance(now: Date): DetectedAlert[];
  /** The state as JSON text: store it with `lastSeq`. */
  snapshot(): string;
  readonly lastSeq: number;
  readonly config: AlertsConfig;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const DEFAULT_HOURS: BusinessHoursSetting = {
  timezone: 'UTC',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '08:00',
  end: '18:00',
};

function hoursOf(config: AlertsConfig, policy: BusinessHoursSetting | undefined): LocalHours {
  const base = policy ?? DEFAULT_HOURS;
  const hours = config.businessHours ?? base;
  return createLocalHours({
    timeZone: config.timezone ?? base.timezone,
    days: hours.days,
    startMinute: minuteOfDay(hours.start),
    endMinute: minuteOfDay(hours.end),
    graceMinutes: config.offHours.graceMinutes,
  });
}

export function createDetectorEngine(options: DetectorEngineOptions = {}): DetectorEngine {
  const config = parseAlertsConfig(options.alerts);
  const hours = hoursOf(config, options.policyHours);
  const lookups = options.lookups ?? NO_LOOKUPS;
  const state: EngineState = options.state !== undefined ? restoreState(options.state) : emptyState();

  const person = (id: string, now: number): PersonState => {
    let p = state.people[id];
    if (p === undefined) {
      p = { lastAt: now, held: {}, denials: [], roles: {}, approvals: {} };
      state.people[id] = p;
    }
    p.lastAt = now;
    return p;
  };

  // One context for the engine's life, moved to each event's time: nothing is allocated per event for it.
  let out: DetectedAlert[] = [];
  const ctx: { -readonly [K in keyof DetectContext]: DetectContext[K] } = {
    config,
    lookups,
    hours,
    state,
    now: 0,
    learning: true,
    person: (id) => person(id, ctx.now),
    raise: createRaise(config, (alert) => out.push(alert)),
  };
  const contextAt = (now: number): DetectContext => {
    out = [];
    ctx.now = now;
    ctx.learning = state.startedAt === null || now < state.startedAt + config.learningPeriod;
    return ctx;
  };

  /** Timers of log time: overdue reviews each minute, forgetting stale entries each hour. */
  const passTime = (ctx: DetectContext): void => {
    if (Math.floor(ctx.now / MINUTE_MS) !== Math.floor(state.lastAt / MINUTE_MS)) raiseOverdueReviews(ctx);
    if (ctx.now - state.sweptAt < HOUR_MS) return;
    state.sweptAt = ctx.now;
    sweepRequests(ctx);
    sweepProbes(ctx);
    closePastHours(ctx);
    const forget = config.forgetAfterDays * DAY_MS;
    for (const [id, p] of Object.entries(state.people))
      if (ctx.now - p.lastAt > forget) delete state.people[id];
  };

  return {
    evaluate(event) {
      if (event.seq <= state.lastSeq) return [];
      const at = Date.parse(event.record.recordedAt);
      // The log's clock only moves forward here: a record stamped earlier than its predecessor (clock skew between
      // replicas) is evaluated at its predecessor's time.
      const now = Number.isFinite(at) ? Math.max(at, state.lastAt) : state.lastAt;
      state.startedAt ??= now;
      contextAt(now);
      passTime(ctx);
      dispatch(ctx, event);
      state.lastAt = now;
      state.lastSeq = event.seq;
      return out;
    },
    advance(now) {
      const ms = now.getTime();
      if (!(ms > state.lastAt) || state.startedAt === null) return [];
      contextAt(ms);
      passTime(ctx);
      state.lastAt = ms;
      return out;
    },
    snapshot: () => JSON.stringify(state),
    get lastSeq() {
      return state.lastSeq;
    },
    config,
  };
}
