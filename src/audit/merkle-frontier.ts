/**
 * The right edge of a Merkle tree that grows one leaf at a time: the roots of its perfect subtrees, largest first
 * (one per set bit of the size, like a binary counter). Appending a leaf merges equal-sized subtrees; each merge is
 * an interior node that can be stored once and never changes. This is how the log is built and verified in one pass
 * with memory logarithmic in its size, and how the root of any prefix is had without re-reading old leaves.
 */
import { createHash } from 'node:crypto';
import { nodeHash, type Hash } from './merkle.js';

export interface Frontier {
  readonly size: number;
  /** Perfect-subtree roots, largest (leftmost) first. */
  readonly hashes: readonly Hash[];
}

/** An interior node: the root of the perfect subtree over leaves [idx·2^level, (idx+1)·2^level). */
export interface TreeNode {
  readonly level: number;
  readonly idx: number;
  readonly hash: Hash;
}

export const EMPTY_FRONTIER: Frontier = Object.freeze({
  size: 0,
  hashes: Object.freeze([]),
});

/** A mutable builder for the hot loops (verification, building); `Frontier` is its immutable snapshot. */
export class FrontierBuilder {
  private readonly stack: Hash[];
  private count: number;

  constructor(start: Frontier = EMPTY_FRONTIER) {
    if (start.hashes.length !== popcount(start.size)) {
      throw new RangeError(
        `a frontier of size ${start.size} has ${popcount(start.size)} hashes, not ${start.hashes.length}`,
      );
    }
    this.stack = [...start.hashes];
    this.count = start.size;
  }

  get size(): number {
    return this.count;
  }

  /** Adds the next leaf hash; reports each interior node it completes, if asked. */
  push(leaf: Hash, onNode?: (node: TreeNode) => void): void {
    let hash = leaf;
    let index = this.count;
    let level = 0;
    // Every trailing 1-bit of the old size is a perfect subtree of the new leaf's size: merge them.
    // Arithmetic, not bitwise: sizes pass 2^31 long before they pass 2^53.
    while (index % 2 === 1) {
      hash = nodeHash(this.stack.pop()!, hash);
      index = (index - 1) / 2;
      level += 1;
      onNode?.({ level, idx: index, hash });
    }
    this.stack.push(hash);
    this.count += 1;
  }

  /** MTH of the leaves so far (RFC 6962): fold the subtree roots from the right. */
  root(): Hash {
    return frontierRoot(this.snapshot());
  }

  snapshot(): Frontier {
    return { size: this.count, hashes: [...this.stack] };
  }
}

export function frontierRoot(frontier: Frontier): Hash {
  const h = frontier.hashes;
  if (h.length === 0) return createHash('sha256').digest();
  let acc = h[h.length - 1]!;
  for (let i = h.length - 2; i >= 0; i--) acc = nodeHash(h[i]!, acc);
  return acc;
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}
