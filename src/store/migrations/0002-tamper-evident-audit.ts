import { sql, type Kysely } from 'kysely';
import { canonicalJson } from '../../lib/canonical-json.js';

/**
 * The tamper-evident audit log. Each event keeps the exact canonical bytes that were hashed (`canonical`) and its
 * RFC 6962 leaf hash; the Merkle tree's interior nodes are stored as they are built so that a proof in a log of
 * millions of events is a handful of index lookups; signed checkpoints are kept with the body and signature exactly
 * as published.
 *
 * Append-only is enforced by PostgreSQL twice: UPDATE, DELETE and TRUNCATE are revoked from everyone, the owning role
 * included, and a trigger refuses them anyway (an owner can grant itself privileges back; it must also drop a trigger,
 * and neither goes unnoticed by `phigate audit verify`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table audit_events
      add column canonical text,
      add column leaf_hash bytea,
      add column patient_tokens text[] not null default '{}';
  `.execute(db);
  await backfillCanonical(db);
  await sql`
    alter table audit_events
      drop column event,
      alter column canonical set not null,
      alter column leaf_hash set not null,
      add constraint audit_events_leaf_hash_size check (octet_length(leaf_hash) = 32),
      add constraint audit_events_seq_positive check (seq > 0);
    create index audit_events_patients on audit_events using gin (patient_tokens);
    create index audit_events_recorded on audit_events (recorded_at, seq);
    -- Every index is paid for by every append (measured: the filters' indexes cost a quarter of the append rate).
    -- Statements are the bulk of the log and are found by patient, actor or seq; the rarer actions auditors look
    -- for (grants, refusals) get an index of their own. A resource filter walks seq order: there are few resources.
    create index audit_events_action on audit_events (action, seq) where action <> 'statement.execute';

    -- Which HMAC key made this log's tokens (its public id, never the key): a replica with another key is refused.
    create table audit_log_identity (
      id boolean primary key default true check (id),
      hmac_key_id text not null,
      created_at timestamptz not null default now()
    );

    -- Interior nodes of the Merkle tree (level ≥ 1; level 0 is audit_events.leaf_hash): node (level, idx) is the
    -- root of the perfect subtree over leaves [idx·2^level, (idx+1)·2^level).
    create table audit_tree_nodes (
      level smallint not null check (level between 1 and 62),
      idx bigint not null check (idx >= 0),
      hash bytea not null check (octet_length(hash) = 32),
      primary key (level, idx)
    );

    -- How far the tree has been built, and its right edge (the roots of the perfect subtrees of the built prefix,
    -- largest first), so that building resumes without reading old leaves.
    create table audit_tree_state (
      id boolean primary key default true check (id),
      size bigint not null check (size >= 0),
      frontier bytea[] not null
    );
    insert into audit_tree_state (size, frontier) values (0, '{}');

    create table audit_checkpoints (
      size bigint primary key check (size >= 0),
      root_hash bytea not null check (octet_length(root_hash) = 32),
      signed_at timestamptz not null,
      key_id text not null,
      body text not null,
      signature text not null
    );

    create table audit_signing_keys (
      key_id text primary key,
      public_key_pem text not null,
      first_used_at timestamptz not null default now()
    );

    create trigger audit_tree_nodes_no_update before update or delete on audit_tree_nodes
      for each row execute function audit_events_append_only();
    create trigger audit_tree_nodes_no_truncate before truncate on audit_tree_nodes
      for each statement execute function audit_events_append_only();
    create trigger audit_checkpoints_no_update before update or delete on audit_checkpoints
      for each row execute function audit_events_append_only();
    create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
      for each statement execute function audit_events_append_only();

    create or replace function audit_events_append_only() returns trigger language plpgsql as $$
    begin
      raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'insufficient_privilege';
    end $$;

    revoke update, delete, truncate on audit_events, audit_tree_nodes, audit_checkpoints from public;
  `.execute(db);
  // The owner too: ALTER remains the owner's (migrations need it), row changes do not.
  await sql`revoke update, delete, truncate on audit_events, audit_tree_nodes, audit_checkpoints from current_user`.execute(
    db,
  );
}

interface LegacyEvent {
  seq: string;
  recorded_at: Date;
  event: {
    action: string;
    outcome: string;
    reasonCode?: string;
    actor?: { id?: string; displayName?: string; groups?: string[] };
    resource?: string;
    requestId?: string;
    detail?: Record<string, unknown>;
  };
}

/**
 * Rows written before the log was hashed get canonical bytes in the current record shape. Nothing had been signed
 * yet, so this promises nothing that was promised before; from here on every row is hashed as written.
 */
async function backfillCanonical(db: Kysely<unknown>): Promise<void> {
  const rows = await sql<LegacyEvent>`select seq, recorded_at, event from audit_events order by seq`.execute(
    db,
  );
  if (rows.rows.length === 0) return;
  await sql`alter table audit_events disable trigger audit_events_no_update`.execute(db);
  for (const row of rows.rows) {
    const e = row.event;
    const record = {
      v: 1,
      recordedAt: new Date(row.recorded_at).toISOString(),
      action: e.action,
      outcome: e.outcome,
      reasonCode: e.reasonCode,
      who: { actor: e.actor?.id ?? 'unknown', name: e.actor?.displayName, groups: e.actor?.groups },
      what:
        e.resource !== undefined || e.requestId !== undefined
          ? { resource: e.resource, requestId: e.requestId }
          : undefined,
      detail: e.detail,
    };
    await sql`
      update audit_events
         set canonical = ${canonicalJson(record)},
             leaf_hash = sha256('\\x00'::bytea || convert_to(${canonicalJson(record)}, 'UTF8'))
       where seq = ${row.seq}`.execute(db);
  }
  await sql`alter table audit_events enable trigger audit_events_no_update`.execute(db);
}
