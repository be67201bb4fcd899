import { sql, type Kysely } from 'kysely';

/**
 * The control plane: access requests (which become grants when they activate), approvals, idempotency records,
 * break-glass review items, alert events, the policy versions requests were decided under, and an append-only audit
 * table that the tamper-evident log (Merkle tree, checkpoints) builds on.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table policy_versions (
      hash text primary key,
      source_name text not null,
      source text not null,
      first_loaded_at timestamptz not null default now()
    );

    create table access_requests (
      id uuid primary key,
      requester_id text not null,
      requester jsonb not null,
      resource text not null,
      role text not null,
      duration_ms bigint not null check (duration_ms > 0),
      purpose text not null,
      justification text not null,
      ticket text,
      patient_ids jsonb not null default '[]',
      scope_hash text not null,
      policy_hash text not null references policy_versions(hash),
      decision jsonb not null,
      emergency boolean not null default false,
      status text not null check (status in
        ('pending', 'active', 'expired', 'revoked', 'denied', 'cancelled', 'timed-out')),
      created_at timestamptz not null,
      pending_until timestamptz,
      decided_at timestamptz,
      activated_at timestamptz,
      expires_at timestamptz,
      ended_at timestamptz,
      end_reason text,
      ended_by text,
      check (status <> 'active' or (activated_at is not null and expires_at is not null))
    );
    create index access_requests_requester on access_requests (requester_id, created_at desc);
    create index access_requests_active_expiry on access_requests (expires_at) where status = 'active';
    create index access_requests_pending on access_requests (pending_until) where status = 'pending';
    create index access_requests_chain on access_requests (requester_id, role, resource, expires_at)
      where status in ('active', 'expired', 'revoked');

    create table approvals (
      request_id uuid not null references access_requests(id),
      approver_id text not null,
      approver jsonb not null,
      verdict text not null check (verdict in ('approve', 'deny')),
      scope_hash text not null,
      policy_hash text not null,
      comment text,
      created_at timestamptz not null,
      primary key (request_id, approver_id)
    );

    create table idempotency_keys (
      principal_id text not null,
      key text not null,
      fingerprint text not null,
      status_code integer not null,
      body jsonb not null,
      created_at timestamptz not null default now(),
      primary key (principal_id, key)
    );

    create table review_items (
      id uuid primary key,
      request_id uuid not null references access_requests(id),
      kind text not null,
      status text not null check (status in ('open', 'closed')),
      opened_at timestamptz not null,
      closed_at timestamptz,
      closed_by text,
      outcome text,
      notes text
    );
    create index review_items_open on review_items (opened_at) where status = 'open';

    create table alert_events (
      id bigint generated always as identity primary key,
      kind text not null,
      severity text not null check (severity in ('info', 'warning', 'critical')),
      request_id uuid references access_requests(id),
      principal_id text,
      detail jsonb not null default '{}',
      created_at timestamptz not null
    );

    -- The audit log: one row per event, numbered without gaps by a counter row that each appending transaction
    -- increments (a rolled-back transaction rolls its numbers back too, unlike a sequence).
    create table audit_head (
      id boolean primary key default true check (id),
      last_seq bigint not null
    );
    insert into audit_head (last_seq) values (0);

    create table audit_events (
      seq bigint primary key,
      recorded_at timestamptz not null,
      action text not null,
      outcome text not null check (outcome in ('success', 'refused', 'failure')),
      reason_code text,
      actor_id text,
      resource text,
      request_id uuid,
      event jsonb not null
    );
    create index audit_events_request on audit_events (request_id) where request_id is not null;
    create index audit_events_actor on audit_events (actor_id, seq);

    create function audit_events_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $$;
    create trigger audit_events_no_update before update or delete on audit_events
      for each row execute function audit_events_append_only();
    create trigger audit_events_no_truncate before truncate on audit_events
      for each statement execute function audit_events_append_only();
  `.execute(db);
}
