import { sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AuditEventInput } from './event.js';

/**
 * Appends events inside the caller's transaction, so that the change and its record commit together or not at
 * all (no audit, no change). Sequence numbers come from a counter row: gapless, and in commit order for writers.
 */
export async function appendAudit(
  tx: Transaction<Database>,
  events: readonly AuditEventInput[],
  recordedAt: Date,
): Promise<number[]> {
  if (events.length === 0) return [];
  const head = await sql<{ last_seq: number }>`
    update audit_head set last_seq = last_seq + ${events.length} returning last_seq`.execute(tx);
  const last = Number(head.rows[0]?.last_seq);
  const first = last - events.length + 1;
  const rows = events.map((e, i) => ({
    seq: first + i,
    recorded_at: recordedAt,
    action: e.action,
    outcome: e.outcome,
    reason_code: e.reasonCode ?? null,
    actor_id: e.actor.id,
    resource: e.resource ?? null,
    request_id: e.requestId ?? null,
    event: JSON.stringify({ ...e, recordedAt: recordedAt.toISOString() }),
  }));
  await tx.insertInto('audit_events').values(rows).execute();
  return rows.map((r) => r.seq);
}
