/**
 * The kinds of alert the detectors raise, with their default severity and the evidence keys each may carry. Evidence
 * is identifiers of phigate objects (principal ids, request ids, audit sequence numbers), policy names, reason codes,
 * patient TOKENS and counts — never PHI, never free text a person typed. Delivery's registry of every alert kind
 * (`src/alerts/alert-kinds.ts`) is built from this table, so a detector's kind is deliverable by construction.
 */
import type { AlertSeverity } from '../alert-severity.js';

export interface DetectorKindInfo {
  /** One line for people. */
  readonly title: string;
  readonly severity: AlertSeverity;
  /** Keys of the evidence this kind may carry; the engine drops any other (tests assert none is produced). */
  readonly evidence: readonly string[];
}

/** Every alert names the event that raised it (`seq`, when there is one) and its subject; these are per kind. */
export const DETECTOR_KINDS = {
  'break-glass': {
    title: 'Break-glass access used',
    severity: 'critical',
    evidence: ['requestId', 'role', 'resource', 'purpose', 'patientCount'],
  },
  'break-glass.review-overdue': {
    title: 'Break-glass review overdue',
    severity: 'warning',
    evidence: ['requestId', 'role', 'resource', 'activatedAt', 'dueAt', 'activationSeq'],
  },
  'escalation.new-role': {
    title: 'Request for a role never held before',
    severity: 'warning',
    evidence: ['requestId', 'role', 'resource', 'rolesHeld'],
  },
  'escalation.privileged-role': {
    title: 'Request for a role more privileged than usual',
    severity: 'warning',
    evidence: ['requestId', 'role', 'resource', 'rank', 'usualMaxRank', 'rolesHeld'],
  },
  'escalation.re-request': {
    title: 'Role requested again after a denial',
    severity: 'warning',
    evidence: ['requestId', 'role', 'resource', 'deniedRequestId', 'deniedSeq', 'secondsSinceDenial'],
  },
  'escalation.fast-approval': {
    title: 'Approval given within seconds of the request',
    severity: 'warning',
    evidence: ['requestId', 'role', 'approver', 'requester', 'secondsToApprove'],
  },
  'escalation.rubber-stamp': {
    title: 'Same approver approving the same requester repeatedly',
    severity: 'warning',
    evidence: ['approver', 'requester', 'approvals', 'windowSeconds', 'requestId'],
  },
  'off-hours': {
    title: 'Access outside business hours for a role used in hours',
    severity: 'warning',
    evidence: ['requestId', 'role', 'resource', 'action', 'localTime', 'inHoursGrants', 'offHoursGrants'],
  },
  'volume.above-baseline': {
    title: "Volume far above the person's own baseline",
    severity: 'warning',
    evidence: ['requestId', 'role', 'scope', 'metric', 'value', 'median', 'mad', 'threshold', 'samples'],
  },
  'volume.ceiling': {
    title: 'Volume over the absolute ceiling',
    severity: 'critical',
    evidence: ['requestId', 'role', 'scope', 'metric', 'value', 'ceiling'],
  },
  'bulk-export': {
    title: 'Bulk export',
    severity: 'warning',
    evidence: ['requestId', 'role', 'resource', 'how', 'rows', 'statementId', 'threshold'],
  },
  'restricted-patient': {
    title: 'Restricted patient accessed',
    severity: 'critical',
    evidence: ['requestId', 'role', 'resource', 'action', 'patientTokens'],
  },
  'self-lookup': {
    title: "Requester's own patient record accessed",
    severity: 'critical',
    evidence: ['requestId', 'role', 'resource', 'action', 'patientTokens'],
  },
  'family-lookup': {
    title: "Requester's family member's record accessed",
    severity: 'critical',
    evidence: ['requestId', 'role', 'resource', 'action', 'patientTokens'],
  },
  probing: {
    title: 'Repeated refusals: probing',
    severity: 'warning',
    evidence: ['count', 'windowSeconds', 'reasonCodes', 'firstSeq', 'lastSeq', 'clientAddress'],
  },
} as const satisfies Readonly<Record<string, DetectorKindInfo>>;

export type DetectorKind = keyof typeof DETECTOR_KINDS;

export const DETECTOR_KIND_NAMES = Object.keys(DETECTOR_KINDS) as DetectorKind[];

export function isDetectorKind(kind: string): kind is DetectorKind {
  return Object.hasOwn(DETECTOR_KINDS, kind);
}

/** Evidence values: identifiers, codes, counts and flags — nothing nested, nothing that could carry a record. */
export type EvidenceValue = string | number | boolean | readonly string[];
export type Evidence = Readonly<Record<string, EvidenceValue>>;

/** What a detector raises. `key` is stable for the same finding, so a re-evaluation can be deduplicated. */
export interface DetectedAlert {
  readonly kind: DetectorKind;
  readonly severity: AlertSeverity;
  /** Who the alert is about: a principal id (`issuer#subject`), or `address:<ip>` for anonymous probing. */
  readonly subject: string;
  /** When the finding happened (the triggering event's `recordedAt`, or the deadline that passed). */
  readonly at: string;
  /** The audit event that raised it; absent for alerts raised by time passing (an overdue review). */
  readonly seq?: number;
  readonly key: string;
  readonly evidence: Evidence;
}
