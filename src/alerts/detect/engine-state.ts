/**
 * The detector engine's whole memory, as plain JSON: it is persisted (with the log position it reflects) and read
 * back on another replica, so nothing in it is a Map, a Set, a Date or a class. Every collection is bounded — see
 * docs/detectors.md, "State and memory": fixed-size sample windows per person and role, at most a few denials and
 * one open hour per role, request entries dropped soon after their grant ends, anonymous probing sources capped,
 * and a person silent for `forgetAfterDays` forgotten.
 */

export const ENGINE_STATE_VERSION = 1;

export interface EngineState {
  readonly v: typeof ENGINE_STATE_VERSION;
  /** Log time (ms) of the first event evaluated: the learning period counts from here. */
  startedAt: number | null;
  /** Log time (ms) and sequence number of the last event evaluated. */
  lastAt: number;
  lastSeq: number;
  /** When stale entries were last swept (log time, ms). */
  sweptAt: number;
  people: Record<string, PersonState>;
  /** Requests and grants in flight, by request id. */
  requests: Record<string, RequestState>;
  /** Open break-glass reviews, by request id. */
  reviews: Record<string, ReviewState>;
  /** Refusal windows, by subject (a principal id, or `address:<ip>`), and how many there are. */
  probes: Record<string, ProbeState>;
  probeSources: number;
}

export interface PersonState {
  lastAt: number;
  /** Roles this person held (a grant activated), with the last activation (ms). */
  held: Record<string, number>;
  /** Their most recent denied requests (at most MAX_DENIALS), oldest first. */
  denials: DenialState[];
  /** Per role: hours habit and volume baselines. */
  roles: Record<string, RoleHabit>;
  /** As an approver: requester → times of their approvals within the rubber-stamp window (bounded by its count). */
  approvals: Record<string, number[]>;
}

export interface DenialState {
  readonly role: string;
  readonly requestId: string;
  readonly seq: number;
  readonly at: number;
}

/** Statements, rows and distinct patients: the three volume metrics. */
export interface Metrics<T> {
  statements: T;
  rows: T;
  patients: T;
}

export interface Baseline {
  /** The last `volume.samples` values, oldest first. */
  samples: Metrics<number[]>;
  /** The threshold each metric's next value is judged by, recomputed when a sample is added (null: too few). */
  thresholds: Metrics<number | null>;
}

export interface VolumeBucket {
  statements: number;
  rows: number;
  /** Distinct patient tokens (bounded by `volume.maxTrackedPatients`); `patientCount` is their number. */
  patients: string[];
  patientCount: number;
  /** What was already raised for this bucket (one alert per kind and scope). */
  alerted: string[];
}

export interface RoleHabit {
  /** Grants of this role activated in business hours, and outside them. */
  inHours: number;
  offHours: number;
  perGrant: Baseline;
  perHour: Baseline;
  /** The hour (ms since epoch / 3,600,000) being counted, with its counts. */
  hour: number;
  current: VolumeBucket | null;
}

export interface RequestState {
  readonly requester: string;
  readonly role: string;
  readonly resource: string;
  readonly createdAt: number;
  status: 'pending' | 'active' | 'ended';
  emergency: boolean;
  lastAt: number;
  /** Volume of the grant so far. */
  volume: VolumeBucket;
  /** Off-hours use already raised or the grant's start already judged. */
  offHoursRaised: boolean;
  /** Patients already raised for (restricted / self / family), bounded. */
  patientAlerts: string[];
}

export interface ReviewState {
  readonly subject: string;
  readonly role: string;
  readonly resource: string;
  readonly activatedAt: number;
  readonly activationSeq: number;
  readonly dueAt: number;
}

export interface ProbeState {
  lastAt: number;
  /** [time ms, weight] of refusals in the window, oldest first. */
  hits: [number, number][];
  codes: string[];
  firstSeq: number;
  /** Until this time a raised source is not raised again (one alert per window). */
  quietUntil: number;
  clientAddress?: string;
}

export function emptyState(): EngineState {
  return {
    v: ENGINE_STATE_VERSION,
    startedAt: null,
    lastAt: 0,
    lastSeq: 0,
    sweptAt: 0,
    people: {},
    requests: {},
    reviews: {},
    probes: {},
    probeSources: 0,
  };
}

export function emptyBucket(): VolumeBucket {
  return { statements: 0, rows: 0, patients: [], patientCount: 0, alerted: [] };
}

export function emptyBaseline(): Baseline {
  return {
    samples: { statements: [], rows: [], patients: [] },
    thresholds: { statements: null, rows: null, patients: null },
  };
}

/** Reads persisted state back; a state of another version or shape is refused rather than half-understood. */
export function restoreState(json: string): EngineState {
  const parsed: unknown = JSON.parse(json);
  const s = parsed as Partial<EngineState> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    s.v !== ENGINE_STATE_VERSION ||
    typeof s.lastSeq !== 'number' ||
    typeof s.probeSources !== 'number' ||
    typeof s.people !== 'object' ||
    typeof s.requests !== 'object' ||
    typeof s.reviews !== 'object' ||
    typeof s.probes !== 'object'
  ) {
    throw new Error(`detector state is not version ${ENGINE_STATE_VERSION} state`);
  }
  return s as EngineState;
}
