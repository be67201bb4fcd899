import { sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AuditEventInput } from './event.js';

/**
 * Appends events inside the caller's transaction, so that the change and its record commit together or not at
 * all (no audit, no change). Sequence numbers come from a counter row: gapless, and in commit order for writers.
 *
 * The counter row is locked until the caller commits, which serialises appending transactions; one statement does
 * the increment and the insert so that the lock is taken as late, and held as briefly, as possible. Call this last
 * in a transaction.
 */
/**
 * PostgreSQL's jsonb cannot hold U+0000; an attacker-supplied id or text containing it must still be recorded, so the
 * character is replaced by U+FFFD rather than failing the append (and with it, the refusal being audited).
 */
function withoutNul(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '\ufffd') : value;
}

export async function appendAudit(
  tx: Transaction<Database>,
  events: readonly AuditEventInput[],
  recordedAt: Date,
): Promise<number[]> {
  if (events.length === 0) return [];
  const rows = events.map((e, i) => ({
    n: i + 1,
    action: e.action,
    outcome: e.outcome,
    reason_code: e.reasonCode ?? null,
    actor_id: e.actor.id,
    resource: e.resource ?? null,
    request_id: e.requestId ?? null,
    event: { ...e, recordedAt: recordedAt.toISOString() },
  }));
  const result = await sql<{ seq: number }>`
    with head as (
      update audit_head set last_seq = last_seq + ${events.length} returning last_seq
    ), incoming as (
      select * from jsonb_to_recordset(${JSON.stringify(rows, withoutNul)}::jsonb)
        as r(n bigint, action text, outcome text, reason_code text, actor_id text, resource text, request_id uuid,
             event jsonb)
    )
    insert into audit_events (seq, recorded_at, action, outcome, reason_code, actor_id, resource, request_id, event)
    select head.last_seq - ${events.length} + incoming.n, ${recordedAt}, incoming.action, incoming.outcome,
           incoming.reason_code, incoming.actor_id, incoming.resource, incoming.request_id, incoming.event
      from head, incoming
    order by incoming.n
    returning seq`.execute(tx);
  return result.rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
}
