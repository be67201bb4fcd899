import type { Transaction } from 'kysely';
import { canonicalJson } from '../lib/canonical-json.js';
import { insertEncoded, type EncodedEvent } from '../store/audit-append-repository.js';
import type { Database } from '../store/schema.js';
import { UNATTRIBUTED_INDEX_TOKEN } from './disclosures.js';
import { auditRecord, type AuditEventInput } from './event.js';
import { leafHash } from './merkle.js';
import { FrontierBuilder, type Frontier } from './merkle-frontier.js';

/**
 * Appends events inside the caller's transaction, so that the change and its record commit together or not at all
 * (no audit, no change). Sequence numbers come from a counter row: gapless, and in commit order, because the row
 * stays locked until the appending transaction ends — a reader therefore always sees a gapless prefix of the log,
 * which is what the Merkle tree is built over. One statement does the increment and the insert so that the lock is
 * taken as late, and held as briefly, as possible: call this last in a transaction.
 *
 * The leaf hash is computed here from the canonical bytes, which are stored verbatim: what is verified later is
 * exactly what was hashed now.
 */
export async function appendAudit(
  tx: Transaction<Database>,
  events: readonly AuditEventInput[],
  recordedAt: Date,
): Promise<number[]> {
  const rows = events.map((e) => encodeEvent(e, recordedAt));
  if (rows.length === 0) return [];
  // The head's edge is extended by the same statement, in SQL: the head's lock is taken as late as before.
  return insertEncoded(tx, rows, { after: 'extend-in-sql' });
}

/** The tree's right edge after `rows` (see appended-tree.ts). */
export function extendFrontier(from: Frontier, rows: readonly EncodedEvent[]): Frontier {
  const builder = new FrontierBuilder(from);
  for (const r of rows) builder.push(r.leafHash);
  return builder.snapshot();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeEvent(event: AuditEventInput, recordedAt: Date): EncodedEvent {
  const record = auditRecord(event, recordedAt);
  // Attacker-supplied text must still be recorded, one way only: lone surrogates (no UTF-8 form, so no canonical
  // bytes) become U+FFFD rather than failing the append — and with it the refusal being audited.
  const canonical = canonicalJson(record, { repairSurrogates: true });
  const requestId = record.what?.requestId;
  return {
    recordedAt,
    action: columnText(record.action),
    outcome: record.outcome,
    reasonCode: record.reasonCode === undefined ? null : columnText(record.reasonCode),
    actorId: columnText(record.who.actor),
    resource: record.what?.resource === undefined ? null : columnText(record.what.resource),
    // Only a real id is indexed; anything else (an attacker's "id" in a refused call) stays in the record as data.
    requestId: requestId !== undefined && UUID.test(requestId) ? requestId : null,
    canonical,
    leafHash: leafHash(Buffer.from(canonical, 'utf8')),
    patients: [
      ...(record.what?.patients ?? []),
      ...(record.what?.unattributed === true ? [UNATTRIBUTED_INDEX_TOKEN] : []),
    ].join(','),
  };
}

/**
 * The indexed columns repeat values that attackers can supply (an actor id, a resource name). PostgreSQL text holds
 * neither U+0000 nor lone surrogates, and an append must not fail on them — the refusal being recorded would be lost
 * with it — so they become U+FFFD there. The canonical record keeps them exactly (JSON escapes them).
 */
function columnText(value: string): string {
  return value.toWellFormed().replaceAll('\u0000', '\ufffd');
}
