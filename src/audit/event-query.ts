/** Finding events (the query itself is store/audit-event-repository.ts), parsed from their canonical text. */
import { selectEvents, type EventFilter } from '../store/audit-event-repository.js';
import type { Db } from '../store/database.js';
import type { AuditRecord, StoredAuditEvent } from './event.js';

export { MAX_PAGE, type EventFilter } from '../store/audit-event-repository.js';

export function parseStored(seq: number, canonical: string): StoredAuditEvent {
  return { seq, canonical, record: JSON.parse(canonical) as AuditRecord };
}

export async function queryEvents(db: Db, filter: EventFilter): Promise<StoredAuditEvent[]> {
  const rows = await selectEvents(db, filter);
  return rows.map((r) => parseStored(Number(r.seq), r.canonical));
}
