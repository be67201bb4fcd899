/**
 * The audit log's head (`audit_head`: the last sequence number and the right edge of the tree its appenders built)
 * and the read-back of stored events that audit/appended-tree.ts checks against it.
 */
import { sql } from 'kysely';
import type { Frontier } from '../audit/merkle-frontier.js';
import type { Db } from './database.js';

export interface StoredHead {
  readonly lastSeq: number;
  /** NULL on a log older than migration 0005 that no writer has started on since. */
  readonly frontier: Frontier | undefined;
}

export async function readHead(db: Db): Promise<StoredHead> {
  const r = await sql<{ last_seq: number; frontier: Buffer[] | null }>`
    select last_seq, frontier from audit_head`.execute(db);
  const row = r.rows[0]!;
  const lastSeq = Number(row.last_seq);
  return {
    lastSeq,
    frontier: row.frontier === null ? undefined : { size: lastSeq, hashes: row.frontier },
  };
}

/** A stored event's bytes and the leaf hash stored with it. */
export interface StoredLeaf {
  readonly seq: number;
  readonly canonical: string;
  readonly leafHash: Buffer;
}

/** The stored events (after, upTo], in seq order. */
export async function selectStoredLeaves(db: Db, after: number, upTo: number): Promise<StoredLeaf[]> {
  const rows = await sql<{ seq: number; canonical: string; leaf_hash: Buffer }>`
      select seq, canonical, leaf_hash from audit_events
       where seq > ${after} and seq <= ${upTo} order by seq`.execute(db);
  return rows.rows.map((r) => ({ seq: Number(r.seq), canonical: r.canonical, leafHash: r.leaf_hash }));
}

/**
 * Writes the tree's edge into a head that has none (a log older than migration 0005), if the head is still `tree`
 * long. False when appends moved it meanwhile (or an edge was written first).
 */
export async function writeMissingHeadEdge(db: Db, tree: Frontier): Promise<boolean> {
  const written = await sql`update audit_head set frontier = ${tree.hashes}::bytea[]
               where last_seq = ${tree.size} and frontier is null`.execute(db);
  return Number(written.numAffectedRows ?? 0) === 1;
}
