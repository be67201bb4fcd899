/**
 * The one place alert kinds and severities are defined. A kind declares the evidence keys it may carry; rendering
 * drops every other key, so that a detector that puts something unexpected into `detail` cannot leak it to a
 * channel. Evidence is identifiers of phigate objects, policy names, codes and counts — never PHI.
 */

import { ALERT_SEVERITIES, type AlertSeverity } from './alert-severity.js';
import { DETECTOR_KINDS } from './detect/detector-kinds.js';

export { ALERT_SEVERITIES, type AlertSeverity };

export interface AlertKindInfo {
  /** One line for people: subject of an e-mail, title of a chat message. */
  readonly title: string;
  readonly severity: AlertSeverity;
  /** Keys of `detail` that may leave phigate. */
  readonly evidence: readonly string[];
}

export const ALERT_KINDS = {
  // Every kind the detectors raise (src/alerts/detect/detector-kinds.ts).
  ...DETECTOR_KINDS,
  // Raised today inside the break-glass request's own transaction, with the review item it opened.
  'break-glass': {
    ...DETECTOR_KINDS['break-glass'],
    evidence: [...DETECTOR_KINDS['break-glass'].evidence, 'reviewItemId'],
  },
  // Raised by the checkpointer when the stored log differs from what the writer appended (docs/audit.md); the
  // reason names sequence numbers and hashes, never an event's content.
  'audit.damaged': {
    title: 'Audit log altered in storage',
    severity: 'critical',
    evidence: ['seq', 'reason'],
  },
} as const satisfies Readonly<Record<string, AlertKindInfo>>;

export type AlertKind = keyof typeof ALERT_KINDS;

export const ALERT_KIND_NAMES = Object.keys(ALERT_KINDS) as AlertKind[];

export function isAlertKind(kind: string): kind is AlertKind {
  return Object.hasOwn(ALERT_KINDS, kind);
}

export function isAlertSeverity(severity: string): severity is AlertSeverity {
  return (ALERT_SEVERITIES as readonly string[]).includes(severity);
}

/** Ranks severities so that routes can say "warning and above". */
export function severityRank(severity: AlertSeverity): number {
  return ALERT_SEVERITIES.indexOf(severity);
}

/** What a kind unknown to this version (raised by a newer replica) is shown as: its name, no evidence. */
export function kindInfo(kind: string): AlertKindInfo {
  return isAlertKind(kind)
    ? ALERT_KINDS[kind]
    : { title: `Alert ${kind}`, severity: 'warning', evidence: [] };
}
