/**
 * Row types of phigate's own tables, as Kysely sees them. Migrations are the source of truth; keep these in step.
 * Timestamps are read as `Date`; bigint columns are parsed to `number` by the pool (all our bigints are durations
 * in milliseconds or counters far below 2^53).
 */
import type { AlertSeverity } from '../alerts/alert-kinds.js';
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface PolicyVersionsTable {
  hash: string;
  source_name: string;
  source: string;
  first_loaded_at: Generated<Date>;
}

export type RequestStatus =
  'pending' | 'active' | 'expired' | 'revoked' | 'denied' | 'cancelled' | 'timed-out';

export interface AccessRequestsTable {
  id: string;
  requester_id: string;
  requester: Json<unknown>;
  resource: string;
  role: string;
  duration_ms: number;
  purpose: string;
  justification: string;
  ticket: string | null;
  patient_ids: Json<string[]>;
  /** How many of `patient_ids` were found in the resource's patient table; null when not looked up. */
  patients_found: number | null;
  scope_hash: string;
  policy_hash: string;
  decision: Json<unknown>;
  emergency: boolean;
  status: RequestStatus;
  created_at: Timestamp;
  pending_until: Timestamp | null;
  decided_at: Timestamp | null;
  activated_at: Timestamp | null;
  expires_at: Timestamp | null;
  ended_at: Timestamp | null;
  end_reason: string | null;
  ended_by: string | null;
  /** The requester's person key tokens; null for requests recorded before phigate kept them. */
  requester_person_keys: ColumnType<string[] | null, string[] | undefined, never>;
}

export interface ApprovalsTable {
  request_id: string;
  approver_id: string;
  approver: Json<unknown>;
  verdict: 'approve' | 'deny';
  scope_hash: string;
  policy_hash: string;
  comment: string | null;
  created_at: Timestamp;
  /** The approver's person key tokens; null for approvals recorded before phigate kept them. */
  approver_person_keys: ColumnType<string[] | null, string[] | undefined, never>;
}

export interface IdempotencyKeysTable {
  principal_id: string;
  key: string;
  fingerprint: string;
  status_code: number;
  body: Json<unknown>;
  created_at: Generated<Date>;
}

export interface ReviewItemsTable {
  id: string;
  request_id: string;
  kind: string;
  status: 'open' | 'closed';
  opened_at: Timestamp;
  closed_at: Timestamp | null;
  closed_by: string | null;
  outcome: string | null;
  notes: string | null;
}

export interface AlertEventsTable {
  id: Generated<number>;
  kind: string;
  severity: AlertSeverity;
  request_id: string | null;
  principal_id: string | null;
  detail: Json<unknown>;
  created_at: Timestamp;
  /** When its delivery rows were made (migration 0006); null: not yet routed. */
  routed_at: Timestamp | null;
}

export interface AlertDeliveriesTable {
  alert_id: number;
  channel: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claim_id: string | null;
  last_error: string | null;
  last_attempt_at: Timestamp | null;
  delivered_at: Timestamp | null;
  created_at: Timestamp;
}

export interface AuditHeadTable {
  id: Generated<boolean>;
  last_seq: number;
  /** The writer's tree over events 1..last_seq (perfect-subtree roots, largest first); NULL before 0005. */
  frontier: Buffer[] | null;
}

export interface AuditEventsTable {
  seq: number;
  recorded_at: Timestamp;
  action: string;
  outcome: 'success' | 'refused' | 'failure';
  reason_code: string | null;
  actor_id: string | null;
  resource: string | null;
  request_id: string | null;
  /** The RFC 8785 text whose UTF-8 bytes were hashed into the leaf. */
  canonical: string;
  leaf_hash: Buffer;
  patient_tokens: string[];
}

export interface AuditLogIdentityTable {
  id: Generated<boolean>;
  hmac_key_id: string;
  created_at: Generated<Timestamp>;
}

export interface AuditTreeNodesTable {
  level: number;
  idx: number;
  hash: Buffer;
}

export interface AuditTreeStateTable {
  id: Generated<boolean>;
  size: number;
  frontier: Buffer[];
}

export interface AuditCheckpointsTable {
  size: number;
  root_hash: Buffer;
  signed_at: Timestamp;
  key_id: string;
  body: string;
  signature: string;
  /** The signed tree's right edge (its fold is root_hash); NULL for checkpoints signed before 0005. */
  frontier: Generated<Buffer[] | null>;
}

export interface AuditSigningKeysTable {
  key_id: string;
  public_key_pem: string;
  first_used_at: Generated<Timestamp>;
}

export interface Database {
  policy_versions: PolicyVersionsTable;
  access_requests: AccessRequestsTable;
  approvals: ApprovalsTable;
  idempotency_keys: IdempotencyKeysTable;
  review_items: ReviewItemsTable;
  alert_events: AlertEventsTable;
  alert_deliveries: AlertDeliveriesTable;
  audit_head: AuditHeadTable;
  audit_events: AuditEventsTable;
  audit_log_identity: AuditLogIdentityTable;
  audit_tree_nodes: AuditTreeNodesTable;
  audit_tree_state: AuditTreeStateTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_signing_keys: AuditSigningKeysTable;
}
