/**
 * What every detector is handed: the configuration, the look-ups, the engine's state, business hours, whether the
 * engine is still learning, and `raise` — which applies the configuration (disabled kinds, severities) and keeps
 * only the evidence keys the kind declares, so that no detector can put anything else into an alert.
 */
import type { AuditRecord } from '../../audit/event.js';
import type { AlertsConfig } from './detect-config.js';
import {
  DETECTOR_KINDS,
  type DetectedAlert,
  type DetectorKind,
  type EvidenceValue,
} from './detector-kinds.js';
import type { EngineState, PersonState, RequestState } from './engine-state.js';
import type { LocalHours } from './local-hours.js';

/** Facts about people the detectors cannot know from the log; supplied by the server (here: injected). */
export interface DetectorLookups {
  /** A patient token flagged VIP, restricted or employee by the privacy office. */
  isRestricted(token: string): boolean;
  /** How a patient token relates to a person (their own record, a family member's), if at all. */
  relationOf(person: string, token: string): 'self' | 'family' | undefined;
}

export const NO_LOOKUPS: DetectorLookups = {
  isRestricted: () => false,
  relationOf: () => undefined,
};

/** One event being evaluated. */
export interface EventInput {
  readonly seq: number;
  readonly record: AuditRecord;
}

export interface DetectContext {
  readonly config: AlertsConfig;
  readonly lookups: DetectorLookups;
  readonly hours: LocalHours;
  readonly state: EngineState;
  /** Log time of the event being evaluated (ms). */
  readonly now: number;
  /** Still inside the learning period: no alert that compares with a person's history. */
  readonly learning: boolean;
  person(id: string): PersonState;
  raise(alert: RaisedAlert): void;
}

export interface RaisedAlert {
  readonly kind: DetectorKind;
  readonly subject: string;
  readonly at: number;
  readonly seq?: number | undefined;
  /** What makes this finding unique within its kind (with the kind, the alert's key). */
  readonly key: string;
  readonly evidence: Record<string, EvidenceValue | undefined>;
}

/**
 * Raises an alert about one request at the event being evaluated: its requester is the subject, and the request's
 * id, role and resource lead the evidence. The key defaults to the request's id (one alert per request and kind).
 */
export function raiseForRequest(
  ctx: DetectContext,
  kind: DetectorKind,
  ev: EventInput,
  id: string,
  req: Pick<RequestState, 'requester' | 'role' | 'resource'>,
  evidence: Record<string, EvidenceValue | undefined>,
  key: string = id,
): void {
  ctx.raise({
    kind,
    subject: req.requester,
    at: ctx.now,
    seq: ev.seq,
    key,
    evidence: { requestId: id, role: req.role, resource: req.resource, ...evidence },
  });
}

/** Evidence arrays are capped: an alert names a handful of tokens or ids, never a bulk read's worth. */
const MAX_EVIDENCE_LIST = 20;

export function createRaise(
  config: AlertsConfig,
  out: (alert: DetectedAlert) => void,
): (alert: RaisedAlert) => void {
  const disabled = new Set<string>(config.disabled);
  return (alert) => {
    if (disabled.has(alert.kind)) return;
    const info = DETECTOR_KINDS[alert.kind];
    const evidence: Record<string, EvidenceValue> = {};
    for (const key of info.evidence) {
      const value = alert.evidence[key];
      if (value === undefined) continue;
      evidence[key] = Array.isArray(value) ? value.slice(0, MAX_EVIDENCE_LIST) : value;
    }
    out({
      kind: alert.kind,
      severity: config.severities[alert.kind] ?? info.severity,
      subject: alert.subject,
      at: new Date(alert.at).toISOString(),
      ...(alert.seq !== undefined ? { seq: alert.seq } : {}),
      key: `${alert.kind}:${alert.key}`,
      evidence,
    });
  };
}
