/**
 * What every channel renders: the alert reduced to what may leave phigate — its id (also the idempotency key every
 * retry repeats), kind, severity, time, the request's id, a link back into phigate, and the kind's declared evidence
 * with values that look like identifiers, codes or counts. Anything else in the stored detail stays behind; no
 * person's name, no patient, no free text.
 */
import { kindInfo, type AlertSeverity } from './alert-kinds.js';

export interface AlertMessage {
  /** `phigate-alert-<id>`: the same for every attempt and every channel (webhook-id, dedup key, Message-ID). */
  readonly messageId: string;
  readonly alertId: number;
  readonly kind: string;
  readonly title: string;
  readonly severity: AlertSeverity;
  readonly raisedAt: string;
  readonly requestId: string | undefined;
  /** Where a person looks at it in phigate (sign-in required there; nothing here approves anything). */
  readonly link: string;
  readonly evidence: Readonly<Record<string, string | number | boolean>>;
}

export interface AlertFacts {
  readonly id: number;
  readonly kind: string;
  readonly severity: AlertSeverity;
  readonly requestId: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

/** Identifiers, policy names and codes: letters, digits and a few separators, bounded. */
const SAFE_TEXT = /^[A-Za-z0-9][A-Za-z0-9._:@#/-]{0,127}$/;

export function alertMessage(alert: AlertFacts, publicUrl: string): AlertMessage {
  const info = kindInfo(alert.kind);
  const evidence: Record<string, string | number | boolean> = {};
  for (const key of info.evidence) {
    const value = alert.detail[key];
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
      evidence[key] = value;
    else if (typeof value === 'string' && SAFE_TEXT.test(value)) evidence[key] = value;
  }
  const base = publicUrl.replace(/\/+$/, '');
  return {
    messageId: `phigate-alert-${alert.id}`,
    alertId: alert.id,
    kind: alert.kind,
    title: info.title,
    severity: alert.severity,
    raisedAt: alert.createdAt.toISOString(),
    requestId: alert.requestId ?? undefined,
    link:
      alert.requestId !== null
        ? `${base}/v1/requests/${encodeURIComponent(alert.requestId)}`
        : `${base}/v1/alerts?before=${alert.id + 1}&limit=1`,
    evidence,
  };
}
