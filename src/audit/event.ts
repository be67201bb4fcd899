/**
 * The one shape of everything phigate records: who, what, why, when, how, outcome. Values are identifiers and codes,
 * never PHI: patient ids and SQL literals are tokenised by the audit module before they are stored (see the
 * tamper-evident log issue); free text (justifications) is stored as data and rendered escaped.
 */
export interface AuditActor {
  /** `issuer#subject`, or `system` for phigate's own actions (expiry, time-outs). */
  readonly id: string;
  readonly displayName?: string;
  readonly groups?: readonly string[];
}

export type AuditOutcome = 'success' | 'refused' | 'failure';

export interface AuditEventInput {
  /** Dotted verb, e.g. `request.create`, `request.approve`, `grant.expire`, `auth.reject`. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  /** Stable reason code for refusals and failures (same codes as the API's problem details). */
  readonly reasonCode?: string;
  readonly actor: AuditActor;
  readonly resource?: string;
  readonly requestId?: string;
  /** What was touched, why, and how: purpose of use, justification, role, approvers, client address, policy hash… */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditEvent extends AuditEventInput {
  readonly seq: number;
  readonly recordedAt: Date;
}
