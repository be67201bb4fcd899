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

/**
 * Pages are ranges of sequence numbers, not `> after LIMIT n`: a range on the primary key is an index range scan
 * whatever the planner believes about the table (a freshly loaded, never analysed log included), and the log is
 * gapless, so a range is a page. Gaps (damage) only make pages shorter.
 */
async function page(db: Db, after: number, upTo: number): Promise<RawEvent[]> {
  const last = Math.min(after + PAGE, upTo);
  const rows = await sql<{ seq: number; canonical: string; leaf_hash: Buffer }>`
    select seq, canonical, leaf_hash from audit_events
     where seq > ${after} and seq <= ${last} order by seq`.execute(db);
  return rows.rows.map((r) => ({ seq: Number(r.seq), canonical: r.canonical, leafHash: r.leaf_hash }));
}

/** Where reading continues after `after`: the next stored seq (beyond a gap), or nothing. */
async function nextStart(db: Db, after: number, upTo: number): Promise<number | undefined> {
  const r = await sql<{ next: number | null }>`
    select min(seq) as next from audit_events where seq > ${after} and seq <= ${upTo}`.execute(db);
  const next = r.rows[0]?.next;
  return next === null || next === undefined ? undefined : Number(next) - 1;
}

export async function* readEvents(db: Db, options: { upTo?: number } = {}): AsyncGenerator<RawEvent[]> {
  const upTo = options.upTo ?? Number.MAX_SAFE_INTEGER;
  let after = 0;
  let next = page(db, after, upTo);
  for (;;) {
    const current = await next;
    const end = Math.min(after + PAGE, upTo);
    if (current.length === PAGE) {
      after = end;
    } else {
      // A short page: the end of the log, or a gap. Find out before going on.
      const resume = await nextStart(db, end, upTo);
      if (current.length > 0) yield current;
      if (resume === undefined) return;
      after = resume;
      next = page(db, after, upTo);
      continue;
    }
    next = page(db, after, upTo);
    // A reader that stops early leaves this fetch unawaited; its failure must not become an unhandled rejection.
    next.catch(() => undefined);
    yield current;
  }
}
