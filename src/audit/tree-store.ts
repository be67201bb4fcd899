/**
 * The Merkle tree as stored: interior nodes are written once, as the tree grows past them, by one builder at a time
 * (the state row's lock serialises builders across replicas). Building is separate from appending so that appends
 * stay one short statement; a checkpoint or a proof first brings the tree up to date. The statements are
 * store/audit-tree-repository.ts.
 */
import {
  insertTreeNodes,
  lockTreeState,
  nextSeqAfter,
  selectLeafHashes,
  selectNodes,
  updateTreeState,
} from '../store/audit-tree-repository.js';
import type { Db } from '../store/database.js';
import { AuditLogDamaged } from './appended-tree.js';
import { FrontierBuilder, type Frontier, type TreeNode } from './merkle-frontier.js';
import type { Hash } from './merkle.js';
import { nodeKeyText, type NodeKey } from './stored-subtrees.js';

const BUILD_BATCH = 20_000;

export { AuditLogDamaged };
export { builtFrontier } from '../store/audit-tree-repository.js';

/** Extends the stored tree over every committed event; returns the built size and its frontier. */
export async function buildTree(db: Db): Promise<Frontier> {
  for (;;) {
    const step = await db.transaction().execute(async (tx) => {
      const start = await lockTreeState(tx);
      const leaves = await selectLeafHashes(tx, start.size, start.size + BUILD_BATCH);
      if (leaves.length === 0) {
        const next = await nextSeqAfter(tx, start.size);
        if (next !== undefined) {
          throw new AuditLogDamaged(
            `the audit log has no event ${start.size + 1} (next is ${next})`,
            start.size + 1,
          );
        }
        return { frontier: start, more: false };
      }
      const builder = new FrontierBuilder(start);
      const nodes: TreeNode[] = [];
      for (const row of leaves) {
        const seq = row.seq;
        if (seq !== builder.size + 1) {
          throw new AuditLogDamaged(
            `the audit log has no event ${builder.size + 1} (next is ${seq})`,
            builder.size + 1,
          );
        }
        builder.push(row.leafHash, (n) => nodes.push(n));
      }
      if (nodes.length > 0) await insertTreeNodes(tx, nodes);
      const frontier = builder.snapshot();
      await updateTreeState(tx, frontier);
      return { frontier, more: leaves.length === BUILD_BATCH };
    });
    if (!step.more) return step.frontier;
  }
}

/** Fetches stored nodes (leaves at level 0) in one round trip, keyed by `nodeKeyText`. */
export async function fetchNodes(db: Db, keys: readonly NodeKey[]): Promise<Map<string, Hash>> {
  const leaves = keys.filter((k) => k.level === 0).map((k) => k.idx + 1);
  const interior = keys.filter((k) => k.level > 0);
  const rows = await selectNodes(db, leaves, interior);
  return new Map(rows.map((r) => [nodeKeyText({ level: r.level, idx: r.idx }), r.hash]));
}
