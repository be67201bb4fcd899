/**
 * Reads the log in seq order, a page at a time, for verification and exports. Keyset pages on the primary key: no
 * long-lived cursor, constant memory, and a page is one index range scan. The next page is already being fetched
 * while the caller works on the current one, so PostgreSQL and the hashing overlap.
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';

export interface RawEvent {
  readonly seq: number;
  readonly canonical: string;
  readonly leafHash: Buffer;
}

const PAGE = 10_000;

async function page(db: Db, after: number, upTo: number): Promise<RawEvent[]> {
  const rows = await sql<{ seq: number; canonical: string; leaf_hash: Buffer }>`
    select seq, canonical, leaf_hash from audit_events
     where seq > ${after} and seq <= ${upTo} order by seq limit ${PAGE}`.execute(db);
  return rows.rows.map((r) => ({ seq: Number(r.seq), canonical: r.canonical, leafHash: r.leaf_hash }));
}

export async function* readEvents(db: Db, options: { upTo?: number } = {}): AsyncGenerator<RawEvent[]> {
  const upTo = options.upTo ?? Number.MAX_SAFE_INTEGER;
  let next = page(db, 0, upTo);
  for (;;) {
    const current = await next;
    if (current.length === 0) return;
    const full = current.length === PAGE;
    if (full) {
      next = page(db, current[current.length - 1]!.seq, upTo);
      // A reader that stops early leaves this fetch unawaited; its failure must not become an unhandled rejection.
      next.catch(() => undefined);
    }
    yield current;
    if (!full) return;
  }
}
