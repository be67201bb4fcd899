/**
 * The Merkle tree as stored: interior nodes are written once, as the tree grows past them, by one builder at a time
 * (the state row's lock serialises builders across replicas). Building is separate from appending so that appends
 * stay one short statement; a checkpoint or a proof first brings the tree up to date.
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { AuditLogDamaged } from './appended-tree.js';
import { FrontierBuilder, type Frontier, type TreeNode } from './merkle-frontier.js';
import type { Hash } from './merkle.js';
import { nodeKeyText, type NodeKey } from './stored-subtrees.js';

const BUILD_BATCH = 20_000;

export { AuditLogDamaged };

/** Extends the stored tree over every committed event; returns the built size and its frontier. */
export async function buildTree(db: Db): Promise<Frontier> {
  for (;;) {
    const step = await db.transaction().execute(async (tx) => {
      const state = await sql<{ size: number; frontier: Buffer[] }>`
        select size, frontier from audit_tree_state for update`.execute(tx);
      const start: Frontier = { size: Number(state.rows[0]!.size), hashes: state.rows[0]!.frontier };
      // A range of the primary key, not `> size LIMIT n`: an index range scan even on a table never analysed.
      const leaves = await sql<{ seq: number; leaf_hash: Buffer }>`
        select seq, leaf_hash from audit_events
         where seq > ${start.size} and seq <= ${start.size + BUILD_BATCH} order by seq`.execute(tx);
      if (leaves.rows.length === 0) {
        const later = await sql<{ next: number | null }>`
          select min(seq) as next from audit_events where seq > ${start.size}`.execute(tx);
        const next = later.rows[0]?.next;
        if (next !== null && next !== undefined) {
          throw new AuditLogDamaged(
            `the audit log has no event ${start.size + 1} (next is ${next})`,
            start.size + 1,
          );
        }
        return { frontier: start, more: false };
      }
      const builder = new FrontierBuilder(start);
      const nodes: TreeNode[] = [];
      for (const row of leaves.rows) {
        const seq = Number(row.seq);
        if (seq !== builder.size + 1) {
          throw new AuditLogDamaged(
            `the audit log has no event ${builder.size + 1} (next is ${seq})`,
            builder.size + 1,
          );
        }
        builder.push(row.leaf_hash, (n) => nodes.push(n));
      }
      if (nodes.length > 0) {
        await sql`
          insert into audit_tree_nodes (level, idx, hash)
          select * from unnest(${nodes.map((n) => n.level)}::smallint[], ${nodes.map((n) => n.idx)}::bigint[],
                               ${nodes.map((n) => n.hash)}::bytea[])`.execute(tx);
      }
      const frontier = builder.snapshot();
      await sql`update audit_tree_state set size = ${frontier.size}, frontier = ${frontier.hashes}::bytea[]`.execute(
        tx,
      );
      return { frontier, more: leaves.rows.length === BUILD_BATCH };
    });
    if (!step.more) return step.frontier;
  }
}

export async function builtFrontier(db: Db): Promise<Frontier> {
  const state = await sql<{
    size: number;
    frontier: Buffer[];
  }>`select size, frontier from audit_tree_state`.execute(db);
  return { size: Number(state.rows[0]!.size), hashes: state.rows[0]!.frontier };
}

/** Fetches stored nodes (leaves at level 0) in one round trip, keyed by `nodeKeyText`. */
export async function fetchNodes(db: Db, keys: readonly NodeKey[]): Promise<Map<string, Hash>> {
  const leaves = keys.filter((k) => k.level === 0).map((k) => k.idx + 1);
  const interior = keys.filter((k) => k.level > 0);
  const rows = await sql<{ level: number; idx: number; hash: Buffer }>`
    select 0 as level, seq - 1 as idx, leaf_hash as hash from audit_events where seq = any(${leaves}::bigint[])
    union all
    select want.level, want.idx, n.hash
      from unnest(${interior.map((k) => k.level)}::smallint[], ${interior.map((k) => k.idx)}::bigint[]) as want(level, idx)
      -- LATERAL: one primary-key probe per wanted node, whatever the planner guesses about unnest's size.
      cross join lateral (
        select hash from audit_tree_nodes t where t.level = want.level and t.idx = want.idx
      ) n`.execute(db);
  return new Map(rows.rows.map((r) => [nodeKeyText({ level: Number(r.level), idx: Number(r.idx) }), r.hash]));
}
