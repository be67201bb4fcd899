/**
 * The audit vocabulary: every action phigate records, in one place, with what it means and how readers treat it.
 *
 * Producers type their events with `AuditAction` (a name not registered here does not compile), and readers ask this
 * registry instead of matching strings: the accounting of disclosures (45 CFR 164.528) takes the actions whose
 * `accounting` says so, the FHIR export takes its AuditEvent `type` and `action` codes from here. A renamed action is
 * renamed here, and every reader follows; `actions.test.ts` fails if the source emits a name that is not registered.
 *
 * Fields:
 * - `meaning`: what an event of this action records (docs/audit.md says more).
 * - `accounting`: its part in a patient's accounting of disclosures — `disclosure` (rows derived from the patient's
 *   rows reached a person: each listed), `access` (access to the patient's rows was granted: listed apart, as
 *   context), or `none`.
 * - `fhirType`: the DICOM event type (FHIR AuditEvent.type) of an ordinary event of this action; the export still
 *   says Patient Record for events that name patients or a statement, and Security Alert for break-glass.
 * - `fhirAction`: FHIR AuditEvent.action — C create, R read, U update (any other change), E execute, D delete.
 * - `severity`: how much an event of this action matters to someone watching the log when it succeeds (RFC 5424
 *   names, as FHIR R5 AuditEvent.severity); a refusal or failure of it matters at least as much.
 */

/** DICOM audit event types (FHIR AuditEvent.type), with their display names. */
export const DICOM_EVENT_TYPES = {
  '110100': 'Application Activity',
  '110110': 'Patient Record',
  '110113': 'Security Alert',
  '110114': 'User Authentication',
} as const;
export type DicomEventType = keyof typeof DICOM_EVENT_TYPES;

export type AuditAccounting = 'disclosure' | 'access' | 'none';
export type FhirAuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
export type AuditSeverity = 'informational' | 'notice' | 'warning' | 'alert';

export interface AuditActionInfo {
  readonly meaning: string;
  readonly accounting: AuditAccounting;
  readonly fhirType: DicomEventType;
  readonly fhirAction: FhirAuditAction;
  readonly severity: AuditSeverity;
}

/** An ordinary action of phigate's own application: no part in the accounting, Application Activity. */
const app = (meaning: string, fhirAction: FhirAuditAction, severity: AuditSeverity): AuditActionInfo => ({
  meaning,
  accounting: 'none',
  fhirType: '110100',
  fhirAction,
  severity,
});

export const AUDIT_ACTIONS = {
  // Access requests and grants (src/access).
  'request.create': app('an access request was made (pending, or active at once)', 'C', 'notice'),
  'request.read': app('a request was read by someone allowed to see it', 'R', 'informational'),
  'request.list': app('requests were listed (mine, or those awaiting my approval)', 'R', 'informational'),
  'request.approve': app('an approver approved a pending request', 'U', 'notice'),
  'request.deny': app('an approver denied a pending request', 'U', 'notice'),
  'request.cancel': app('the requester cancelled their pending request', 'U', 'notice'),
  'request.timeout': app('a pending request was not decided in time (system)', 'U', 'informational'),
  'grant.activate': {
    meaning: 'a grant became active: its holder may reach the resource (and its patients’ rows)',
    accounting: 'access',
    fhirType: '110100',
    fhirAction: 'U',
    severity: 'notice',
  },
  'grant.revoke': app(
    'a grant was ended early, by a person or by the system (end reason in detail)',
    'U',
    'notice',
  ),
  'grant.expire': app('a grant reached its end (system)', 'U', 'informational'),
  'review.close': app('a break-glass grant’s after-the-fact review was closed', 'U', 'notice'),
  'idempotency.replay': app(
    'a retried change was answered from its first outcome, changing nothing',
    'U',
    'informational',
  ),
  // Refusals recorded before any service saw the request (src/audit/refusal-recorder.ts).
  'auth.reject': {
    meaning: 'credentials were refused (no token, one that does not verify, gateway probing)',
    accounting: 'none',
    fhirType: '110114',
    fhirAction: 'U',
    severity: 'warning',
  },
  'api.reject': app('the API refused a request for its form, before any service saw it', 'U', 'notice'),
  // The auditor’s reads and acts (src/audit/auditor-reads.ts, auditor-proofs.ts).
  'audit.query': app('an auditor searched or followed the log', 'R', 'informational'),
  'audit.checkpoints': app('an auditor listed signed checkpoints', 'R', 'informational'),
  'audit.checkpoint': app('an auditor had a checkpoint signed now', 'U', 'notice'),
  'audit.proof': app('an auditor asked for an inclusion or consistency proof', 'R', 'informational'),
  'audit.verify': app('an auditor had the whole log verified', 'R', 'notice'),
  'audit.export': app('an auditor exported the log', 'R', 'notice'),
  'audit.disclosures': app('an auditor produced a patient’s accounting of disclosures', 'R', 'notice'),
  // The gateway (src/gateway).
  'session.token': app('gateway connection details were handed out for a grant', 'U', 'informational'),
  'session.direct-credentials': app(
    'the grant role’s own password was handed out, to connect around the gateway (statements unaudited)',
    'U',
    'warning',
  ),
  'session.open': {
    meaning: 'a gateway session opened as the grant’s role: its holder can read the patients’ rows',
    accounting: 'access',
    fhirType: '110100',
    fhirAction: 'U',
    severity: 'informational',
  },
  'session.refuse': app(
    'a known person was refused a gateway session (no grant, connection limit)',
    'U',
    'warning',
  ),
  'session.close': app('a gateway session ended (reason in detail)', 'U', 'informational'),
  'statement.execute': app(
    'a statement is about to be forwarded to the database (or was refused)',
    'E',
    'informational',
  ),
  'statement.batch': app(
    'statements recorded together, before they were forwarded (auditWait: queued)',
    'E',
    'informational',
  ),
  // Alert delivery (src/alerts): each outcome of an attempt, and auditors' reads and replays.
  'alert.delivered': app(
    'an alert was accepted by a channel (webhook, syslog, e-mail)',
    'U',
    'informational',
  ),
  'alert.retry': app('an attempt to deliver an alert failed; another is scheduled', 'U', 'warning'),
  'alert.dead': app('an alert was given up on a channel after its last attempt (dead letter)', 'U', 'alert'),
  'alert.list': app('an auditor listed alerts and their deliveries', 'R', 'informational'),
  'alert.redeliver': app('an auditor had a dead-lettered alert delivered again', 'U', 'notice'),
  'statement.complete': {
    meaning: 'the database answered statements: rows returned, and the patients they disclosed',
    accounting: 'disclosure',
    fhirType: '110100',
    fhirAction: 'E',
    severity: 'informational',
  },
} as const satisfies Readonly<Record<string, AuditActionInfo>>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export function isAuditAction(name: string): name is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, name);
}

/** What the registry says of an action read from the log (undefined for a name it does not know). */
export function auditActionInfo(name: string): AuditActionInfo | undefined {
  return isAuditAction(name) ? AUDIT_ACTIONS[name] : undefined;
}

/** The actions with this part in the accounting of disclosures. */
export function actionsAccountedAs(accounting: AuditAccounting): ReadonlySet<AuditAction> {
  return new Set(
    (Object.keys(AUDIT_ACTIONS) as AuditAction[]).filter((a) => AUDIT_ACTIONS[a].accounting === accounting),
  );
}
