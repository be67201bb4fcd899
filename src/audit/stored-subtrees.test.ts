import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { FrontierBuilder, frontierRoot, type TreeNode } from './merkle-frontier.js';
import {
  consistencyPath,
  consistencyProof,
  inclusionPath,
  inclusionProof,
  leafHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
import { nodeKeyText, nodesNeeded, subtreeHashFrom } from './stored-subtrees.js';

const leaves = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from(`event ${i}`)));

/** Everything a store would hold after building the tree: leaves at level 0, interior nodes above. */
function storedNodes(count: number): Map<string, Buffer> {
  const nodes = new Map<string, Buffer>();
  const builder = new FrontierBuilder();
  leaves.slice(0, count).forEach((leaf, i) => {
    nodes.set(nodeKeyText({ level: 0, idx: i }), leaf);
    builder.push(leaf, (n: TreeNode) => nodes.set(nodeKeyText(n), n.hash));
  });
  return nodes;
}

describe('frontier and stored-node proofs', () => {
  it('the frontier root equals MTH for every size, and resumes from a snapshot', () => {
    const builder = new FrontierBuilder();
    assert.deepEqual(builder.root(), createHash('sha256').digest());
    for (let n = 1; n <= leaves.length; n++) {
      builder.push(leaves[n - 1]!);
      assert.deepEqual(builder.root(), rootHash(leaves, 0, n), `size ${n}`);
      const resumed = new FrontierBuilder(builder.snapshot());
      assert.deepEqual(frontierRoot(resumed.snapshot()), rootHash(leaves, 0, n));
    }
  });

  it('reports each interior node exactly once, with the hash of its perfect subtree', () => {
    const seen = new Map<string, Buffer>();
    const builder = new FrontierBuilder();
    for (const leaf of leaves) {
      builder.push(leaf, (n) => {
        assert.ok(!seen.has(nodeKeyText(n)));
        seen.set(nodeKeyText(n), n.hash);
        const width = 2 ** n.level;
        assert.deepEqual(n.hash, rootHash(leaves, n.idx * width, (n.idx + 1) * width));
      });
    }
    let perfect = 0;
    for (let width = 2; width <= leaves.length; width *= 2) perfect += Math.floor(leaves.length / width);
    assert.equal(seen.size, perfect, 'one node per complete perfect subtree above the leaves');
  });

  it('refuses a frontier whose hash count does not match its size', () => {
    assert.throws(() => new FrontierBuilder({ size: 3, hashes: [leaves[0]!] }), /size 3/);
  });

  it('inclusion and consistency proofs from stored nodes equal the in-memory ones and verify', () => {
    for (const size of [1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 70]) {
      const nodes = storedNodes(size);
      const mth = subtreeHashFrom(nodes);
      const root = rootHash(leaves, 0, size);
      for (let m = 0; m < size; m++) {
        const needed = nodesNeeded((h) => inclusionPath(m, size, h));
        assert.ok(needed.length <= 2 * Math.ceil(Math.log2(size + 1)) + 2, `few nodes for ${m}/${size}`);
        const proof = inclusionPath(m, size, mth);
        assert.deepEqual(proof, inclusionProof(leaves, m, size));
        assert.ok(verifyInclusion(leaves[m]!, BigInt(m), BigInt(size), proof, root));
      }
      for (let first = 1; first <= size; first++) {
        const proof = consistencyPath(first, size, mth);
        assert.deepEqual(proof, consistencyProof(leaves, first, size));
        assert.ok(verifyConsistency(BigInt(first), BigInt(size), rootHash(leaves, 0, first), root, proof));
      }
    }
  });

  it('a node missing from the store is an error, never a zero hash', () => {
    const nodes = storedNodes(8);
    nodes.delete('1:0');
    assert.throws(() => inclusionPath(3, 8, subtreeHashFrom(nodes)), /1:0 is missing/);
  });
});
