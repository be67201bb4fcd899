/**
 * The one shape of everything phigate records — who, what, why, when, how, outcome — and the record that is hashed.
 *
 * Values are identifiers and codes, never PHI: patient identifiers appear only as keyed HMAC tokens (`PatientToken`,
 * made by the pseudonymizer from a key that lives outside the store) and SQL only as a normalized fingerprint whose
 * literals are tokens too. Free text a person typed (a justification) is kept as data and rendered escaped.
 *
 * The canonical bytes of an `AuditRecord` (RFC 8785, see lib/canonical-json.ts) are the leaf of the Merkle tree; the
 * record carries a version so that the shape can grow without changing what old leaves mean. docs/audit.md documents
 * every field.
 */
import type { AuditAction } from './actions.js';

export type AuditOutcome = 'success' | 'refused' | 'failure';

/** A patient identifier after keyed hashing: the same patient always gives the same token, and no token gives back
 * the identifier. Only the pseudonymizer makes these. */
export type PatientToken = string & { readonly __brand: 'PatientToken' };

/** Who acted: a person (`issuer#subject`), `system` (phigate's own actions: expiry, time-outs) or `anonymous`. */
export interface AuditWho {
  readonly actor: string;
  readonly issuer?: string | undefined;
  readonly subject?: string | undefined;
  readonly name?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  /** The phigate roles the access was asked or used for. */
  readonly roles?: readonly string[] | undefined;
  /** The people whose approvals let the access happen. */
  readonly approvers?: readonly string[] | undefined;
  /** Their display names, index for index with `approvers` (events recorded before names were kept have none). */
  readonly approverNames?: readonly string[] | undefined;
}

/** What was acted on. */
export interface AuditWhat {
  readonly resource?: string | undefined;
  /** The access request (and grant: a grant is a request that became active). */
  readonly requestId?: string | undefined;
  readonly tables?: readonly string[] | undefined;
  readonly columns?: readonly string[] | undefined;
  readonly patients?: readonly PatientToken[] | undefined;
  /**
   * The record holds a statement of a grant without patients whose rows could not be tied to patients: every
   * patient's accounting of disclosures lists it (indexed under `UNATTRIBUTED_INDEX_TOKEN`, audit/disclosures.ts).
   */
  readonly unattributed?: true | undefined;
  readonly statement?: AuditStatement | undefined;
}

/** A SQL statement as recorded: its fingerprint (literals replaced by placeholders) and the literals as tokens. */
export interface AuditStatement {
  readonly fingerprint: string;
  readonly literals?: readonly string[] | undefined;
  /** Bound parameters of an extended-protocol Execute, as literal tokens (null stays null). */
  readonly parameters?: readonly (string | null)[] | undefined;
  /** Rows returned or affected, from the database's CommandComplete (completion events). */
  readonly rows?: number | undefined;
  /** Time from forwarding to the database's answer, in milliseconds (completion events). */
  readonly durationMs?: number | undefined;
}

/** Why: the HL7 v3 PurposeOfUse code and the person's own words. */
export interface AuditWhy {
  readonly purposeOfUse?: string | undefined;
  readonly justification?: string | undefined;
  readonly ticket?: string | undefined;
  /** Break-glass: emergency access that bypassed approval. */
  readonly emergency?: boolean | undefined;
}

/** How: where the call came from and under which session, token (its id, never the token) and policy version. */
export interface AuditHow {
  readonly clientAddress?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly tokenId?: string | undefined;
  readonly policyVersion?: string | undefined;
  readonly mfa?: boolean | undefined;
}

export interface AuditEventInput {
  /** Dotted verb, e.g. `request.create`, `request.approve`, `grant.expire`, `auth.reject`: one of the registry's. */
  readonly action: AuditAction;
  readonly outcome: AuditOutcome;
  /** Stable reason code for refusals and failures (the same codes as the API's problem details). */
  readonly reasonCode?: string | undefined;
  readonly who: AuditWho;
  readonly what?: AuditWhat | undefined;
  readonly why?: AuditWhy | undefined;
  readonly how?: AuditHow | undefined;
  /** Action-specific facts (durations, statuses, counts). Identifiers and codes only. */
  readonly detail?: Readonly<Record<string, unknown>> | undefined;
}

export const AUDIT_RECORD_VERSION = 1;

/** What is canonicalised and hashed: the event, the record version and when it happened (UTC, phigate's clock). */
export interface AuditRecord extends AuditEventInput {
  readonly v: typeof AUDIT_RECORD_VERSION;
  /** RFC 3339 UTC with milliseconds. */
  readonly recordedAt: string;
}

/** An event as stored: its place in the log, the record, and the exact bytes that were hashed. */
export interface StoredAuditEvent {
  /** 1-based; the event is leaf `seq - 1` of the Merkle tree. */
  readonly seq: number;
  readonly record: AuditRecord;
  /** The canonical JSON text whose UTF-8 bytes are the leaf's data. */
  readonly canonical: string;
}

export function auditRecord(event: AuditEventInput, recordedAt: Date): AuditRecord {
  return { ...event, v: AUDIT_RECORD_VERSION, recordedAt: recordedAt.toISOString() };
}
