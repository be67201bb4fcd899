/**
 * Proofs over a stored tree. A proof needs the hashes of O(log n) subtrees; every subtree RFC 6962's recursion asks
 * for is either perfect and aligned (stored: a leaf hash at level 0, an interior node above) or splits into such
 * subtrees. So a proof is made in two passes of the same pure code: the first records which stored nodes it needs,
 * one query fetches them, the second computes with them. No leaf besides those is read, whatever the log's size.
 */
import { createHash } from 'node:crypto';
import { nodeHash, split, type Hash, type SubtreeHash } from './merkle.js';

export interface NodeKey {
  /** 0 for a leaf. */
  readonly level: number;
  readonly idx: number;
}

export const nodeKeyText = (k: NodeKey): string => `${k.level}:${k.idx}`;

const ZERO = Buffer.alloc(32);

/** The subtree hash of [from, to) from perfect subtrees given by `perfect`. */
export function coveredSubtreeHash(from: number, to: number, perfect: (key: NodeKey) => Hash): Hash {
  const n = to - from;
  if (n <= 0) return createHash('sha256').digest();
  let size = 1;
  let level = 0;
  while (size < n) {
    size *= 2;
    level += 1;
  }
  if (size === n && from % size === 0) return perfect({ level, idx: from / size });
  const k = split(n);
  return nodeHash(coveredSubtreeHash(from, from + k, perfect), coveredSubtreeHash(from + k, to, perfect));
}

/** Runs a proof computation with placeholder hashes and returns the stored nodes it would read. */
export function nodesNeeded(compute: (mth: SubtreeHash) => unknown): NodeKey[] {
  const seen = new Map<string, NodeKey>();
  compute((from, to) =>
    coveredSubtreeHash(from, to, (key) => {
      seen.set(nodeKeyText(key), key);
      return ZERO;
    }),
  );
  return [...seen.values()];
}

/** Subtree hashes from fetched nodes; a missing node is a bug or damage, never silently a zero hash. */
export function subtreeHashFrom(nodes: ReadonlyMap<string, Hash>): SubtreeHash {
  return (from, to) =>
    coveredSubtreeHash(from, to, (key) => {
      const hash = nodes.get(nodeKeyText(key));
      if (hash === undefined) throw new Error(`tree node ${nodeKeyText(key)} is missing from the store`);
      return hash;
    });
}
