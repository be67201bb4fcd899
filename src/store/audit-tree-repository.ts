/**
 * The Merkle tree as stored: its interior nodes (`audit_tree_nodes`, written once each) and how far they are built
 * (`audit_tree_state`: the size and the right edge). audit/tree-store.ts builds the tree and answers proofs with
 * these.
 */
import { sql } from 'kysely';
import type { Frontier, TreeNode } from '../audit/merkle-frontier.js';
import type { Db } from './database.js';

/** How far the stored tree is built, its row locked for the caller's transaction (one builder at a time). */
export async function lockTreeState(tx: Db): Promise<Frontier> {
  const state = await sql<{ size: number; frontier: Buffer[] }>`
        select size, frontier from audit_tree_state for update`.execute(tx);
  return { size: Number(state.rows[0]!.size), hashes: state.rows[0]!.frontier };
}

/** The stored leaves (after, upTo], in seq order. */
export async function selectLeafHashes(
  tx: Db,
  after: number,
  upTo: number,
): Promise<{ readonly seq: number; readonly leafHash: Buffer }[]> {
  // A range of the primary key, not `> size LIMIT n`: an index range scan even on a table never analysed.
  const leaves = await sql<{ seq: number; leaf_hash: Buffer }>`
        select seq, leaf_hash from audit_events
         where seq > ${after} and seq <= ${upTo} order by seq`.execute(tx);
  return leaves.rows.map((r) => ({ seq: Number(r.seq), leafHash: r.leaf_hash }));
}

/** The first stored seq after `size`, if any (a gap in the log when it is not `size + 1`). */
export async function nextSeqAfter(tx: Db, size: number): Promise<number | undefined> {
  const later = await sql<{ next: number | null }>`
          select min(seq) as next from audit_events where seq > ${size}`.execute(tx);
  return later.rows[0]?.next ?? undefined;
}

export async function insertTreeNodes(tx: Db, nodes: readonly TreeNode[]): Promise<void> {
  await sql`
          insert into audit_tree_nodes (level, idx, hash)
          select * from unnest(${nodes.map((n) => n.level)}::smallint[], ${nodes.map((n) => n.idx)}::bigint[],
                               ${nodes.map((n) => n.hash)}::bytea[])`.execute(tx);
}

export async function updateTreeState(tx: Db, frontier: Frontier): Promise<void> {
  await sql`update audit_tree_state set size = ${frontier.size}, frontier = ${frontier.hashes}::bytea[]`.execute(
    tx,
  );
}

/** How far the stored tree is built (no lock). */
export async function builtFrontier(db: Db): Promise<Frontier> {
  const state = await sql<{
    size: number;
    frontier: Buffer[];
  }>`select size, frontier from audit_tree_state`.execute(db);
  return { size: Number(state.rows[0]!.size), hashes: state.rows[0]!.frontier };
}

/** Stored nodes in one round trip: leaves (by seq) from the events, interior ones from the tree's nodes. */
export async function selectNodes(
  db: Db,
  leaves: readonly number[],
  interior: readonly { readonly level: number; readonly idx: number }[],
): Promise<{ readonly level: number; readonly idx: number; readonly hash: Buffer }[]> {
  const rows = await sql<{ level: number; idx: number; hash: Buffer }>`
    select 0 as level, seq - 1 as idx, leaf_hash as hash from audit_events where seq = any(${leaves}::bigint[])
    union all
    select want.level, want.idx, n.hash
      from unnest(${interior.map((k) => k.level)}::smallint[], ${interior.map((k) => k.idx)}::bigint[]) as want(level, idx)
      -- LATERAL: one primary-key probe per wanted node, whatever the planner guesses about unnest's size.
      cross join lateral (
        select hash from audit_tree_nodes t where t.level = want.level and t.idx = want.idx
      ) n`.execute(db);
  return rows.rows.map((r) => ({ level: Number(r.level), idx: Number(r.idx), hash: r.hash }));
}
