/**
 * The policy's public contract: what the rest of phigate may ask of a compiled policy. The policy module is pure
 * (no I/O, no clock reads, imports nothing from other phigate modules), so these types describe people and requests
 * structurally; `identity`'s Principal satisfies `PrincipalFacts`.
 */

import type { Mask, SafeHarborKind } from './safe-harbor.js';

/**
 * Who someone is beyond one account: `id` names the account; `personKeys` are opaque keys naming the human behind it
 * (identity derives them from a verified e-mail or a configured person claim). Two accounts are one person when
 * their ids are equal or they share any key; an account without keys is linked to no other.
 */
export interface PersonRef {
  readonly id: string;
  readonly personKeys?: readonly string[] | undefined;
}

/** What the policy needs to know about a person. */
export interface PrincipalFacts extends PersonRef {
  readonly groups: readonly string[];
  readonly mfa: { readonly satisfied: boolean };
}

/** HL7 v3 ActReason purpose-of-use code, e.g. TREAT, ETREAT, BTG, HPAYMT, HOPERAT. */
export type PurposeOfUse = string;

export type Operation = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * How rows of a table are tied to a patient: the column holding the patient id that requests name, reached from the
 * table through zero or more foreign keys (`hops`: the table's `column` equals `table.referenced`, and so on).
 */
export interface PatientPath {
  readonly hops: readonly { readonly column: string; readonly table: string; readonly referenced: string }[];
  /** The patient id column, in the table itself (no hops) or in the last hop's table. */
  readonly idColumn: string;
}

/** What the policy says about one table holding PHI. */
export interface PhiTable {
  readonly table: string;
  /** Undefined for a table whose rows cannot be tied to a patient (then no patient-scoped role may reach it). */
  readonly patientPath: PatientPath | undefined;
  /** Labelled columns: their Safe Harbor kind and the mask they get by default. */
  readonly columns: ReadonlyMap<string, { readonly kind: SafeHarborKind; readonly mask: Mask }>;
}

export interface TableAccess {
  /** Schema-qualified table name, e.g. `public.patients`. */
  readonly table: string;
  /**
   * Columns the role sees, each listed explicitly (minimum necessary); a column whose mask is `hide` is not among
   * them.
   */
  readonly columns: readonly string[];
  /** The mask of each column in `columns` (`clear` for a column that is not PHI or that the role sees as stored). */
  readonly masks: Readonly<Record<string, Exclude<Mask, 'hide'>>>;
  readonly operations: readonly Operation[];
  /** Whether the resource declares this table as holding PHI. */
  readonly phi: boolean;
  /** How the table's rows reach a patient, when the resource says so (patient-scoped grants filter on it). */
  readonly patientPath: PatientPath | undefined;
}

export interface ResourceDefinition {
  readonly name: string;
  readonly kind: 'postgres';
  readonly description: string;
  /** Connection settings for the gateway and provisioner (no secrets here: those come from config or files). */
  readonly connection: Readonly<Record<string, unknown>>;
  /** Confidentiality (HL7: N, R, V) and sensitivity (ETH, PSY, HIV, …) labels. */
  readonly labels: { readonly confidentiality: string | undefined; readonly sensitivity: readonly string[] };
  /** Tables holding PHI, by schema-qualified name. */
  readonly phi: ReadonlyMap<string, PhiTable>;
}

/**
 * Where a role's patients come from when the request does not name them, and what named ones must be among: the rows
 * of a PHI table that relate the requester to a patient, such as a care team or the attending clinician of
 * encounters.
 */
export interface CareRelation {
  readonly table: string;
  readonly requesterColumn: string;
  readonly requesterIdentifier: 'subject' | 'email' | 'id';
  /** The issuer whose subjects `requesterColumn` holds, when the policy names one. */
  readonly issuer: string | undefined;
  readonly validFrom: string | undefined;
  readonly validUntil: string | undefined;
  /** How the table's rows lead to the patient id (from the resource's PHI declaration). */
  readonly patientPath: PatientPath;
}

export interface RoleDefinition {
  readonly name: string;
  readonly description: string;
  readonly resource: string;
  /** Groups whose members may request this role. */
  readonly eligibleGroups: readonly string[];
  readonly access: readonly TableAccess[];
  readonly defaultDurationMs: number;
  readonly maxDurationMs: number;
  /** Cap on back-to-back grants of this role (extension is a new request; the chain never exceeds this). */
  readonly cumulativeMaxMs: number;
  readonly purposes: readonly PurposeOfUse[];
  /** Break-glass: activates at once without approvers (purpose ETREAT or BTG), short maximum, mandatory review. */
  readonly emergency: boolean;
  /** The requester must have signed in with multiple factors (always, unless set otherwise, for break-glass). */
  readonly requireMfa: boolean;
  /** Whether requests must, may or must not name patient ids. */
  readonly patientScope: 'required' | 'optional' | 'none';
  /** The requester's patients, derived from the database (none: requests name them). */
  readonly careRelation: CareRelation | undefined;
  /** Name of the approval rule that governs non-emergency requests. */
  readonly approvalRule: string;
  /** A gateway session with no message from the client for this long is closed (automatic logoff). */
  readonly idleTimeoutMs: number;
  /** Sessions one grant may hold at once (the database role's connection limit). */
  readonly maxConnections: number;
}

export interface ApprovalRequirement {
  /** Name of the rule, for display and audit. */
  readonly rule: string;
  /** Distinct approvers needed (per group when `fromEachGroup`). */
  readonly count: number;
  /** Approvers must belong to one of these groups (to each of them when `fromEachGroup`). */
  readonly groups: readonly string[];
  readonly fromEachGroup: boolean;
  readonly requireMfa: boolean;
  /**
   * Approvers must be linkable to their other accounts (a verified e-mail or a person claim): an approver phigate
   * cannot tell apart from the requester or from another approver is refused, and their approval does not count.
   */
  readonly requirePerson: boolean;
}

/** A request as the policy sees it (durations already parsed). */
export interface RequestFacts {
  readonly resource: string;
  readonly role: string;
  readonly durationMs: number;
  readonly purpose: PurposeOfUse;
  readonly justification: string;
  readonly ticket: string | undefined;
  readonly patientIds: readonly string[];
}

export interface DecisionInput {
  readonly principal: PrincipalFacts;
  readonly request: RequestFacts;
  /** Decision time (business hours are evaluated in the policy's time zone). */
  readonly now: Date;
  /**
   * Milliseconds already granted to this principal for this role and resource in an unbroken chain of grants that
   * reaches `now` (active ones counted to their `expires_at`); the store computes it, the policy caps it.
   */
  readonly chainedMs: number;
  /**
   * For a role with a care relation: the patients it relates the requester to, looked up by the caller (I/O is
   * not the policy's) — named patients must be among them. Undefined for such a role means the lookup was not
   * made, and the request is refused.
   */
  readonly careRelationPatients?: readonly string[] | undefined;
}

export interface Reason {
  /** Stable machine-readable code, e.g. `duration.over-max`, `role.not-eligible`, `auto-approve.matched`. */
  readonly code: string;
  readonly message: string;
  /** Machine-readable facts, e.g. `{ limitMs: 7200000 }`. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export type Decision =
  | { readonly outcome: 'allow'; readonly mode: 'auto' | 'break-glass'; readonly reasons: readonly Reason[] }
  | {
      readonly outcome: 'needs-approval';
      readonly requirement: ApprovalRequirement;
      readonly reasons: readonly Reason[];
    }
  | { readonly outcome: 'deny'; readonly reasons: readonly Reason[] };

/** An approval already given, as the policy needs to count it. */
export interface GivenApproval {
  readonly approverId: string;
  readonly approverGroups: readonly string[];
  /** The approver's person keys when they approved (see `PersonRef`). */
  readonly personKeys?: readonly string[] | undefined;
}

export interface ApprovalProgress {
  readonly satisfied: boolean;
  /** Approver ids that counted (each person once: the first approval of linked accounts). */
  readonly counted: readonly string[];
  /** Approvals still missing, per group when `fromEachGroup`, else under the key `*`. */
  readonly missing: Readonly<Record<string, number>>;
}

export type ApproverCheck = { readonly ok: true } | { readonly ok: false; readonly reason: Reason };

export interface CompiledPolicy {
  /** SHA-256 (hex) of the source text: the policy version every request records. */
  readonly hash: string;
  readonly sourceName: string;
  readonly source: string;
  readonly resources: ReadonlyMap<string, ResourceDefinition>;
  readonly roles: ReadonlyMap<string, RoleDefinition>;
  /** Approval rules by name, as requirements (for checking approvers under the policy in force, ATTACKS 13). */
  readonly approvalRules: ReadonlyMap<string, ApprovalRequirement>;
  /** How long a request may wait for approvers before it times out. */
  readonly pendingTimeoutMs: number;
  /** Patients one request may name (or one care relation give). */
  readonly maxPatientIds: number;

  /** Pure: allow / needs-approval / deny with reasons. */
  decide(input: DecisionInput): Decision;
  /** The approvers a role's requests need when no auto-approval applies; undefined for break-glass roles. */
  requirementFor(role: string): ApprovalRequirement | undefined;
  /** Roles this person may request (GET /v1/roles). */
  rolesFor(principal: PrincipalFacts): readonly RoleDefinition[];
  /**
   * May `approver` approve or deny a request by `requester` under `requirement`? Never the requester, under any of
   * their accounts (separation of duties is not configurable), only members of the approver groups, MFA when
   * required, person keys when required.
   */
  canApprove(approver: PrincipalFacts, requester: PersonRef, requirement: ApprovalRequirement): ApproverCheck;
  /** Counts approvals against a requirement: one person counts once, whatever their accounts; the requester never. */
  approvalProgress(
    requirement: ApprovalRequirement,
    requester: PersonRef,
    approvals: readonly GivenApproval[],
  ): ApprovalProgress;
  isAdmin(principal: PrincipalFacts): boolean;
  isAuditor(principal: PrincipalFacts): boolean;
}

export interface PolicyProblem {
  readonly path: string;
  readonly line: number | undefined;
  readonly message: string;
}

export type CompileResult =
  | { readonly ok: true; readonly policy: CompiledPolicy }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };
