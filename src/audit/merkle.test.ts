import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from './merkle.js';

// The reference inputs of the Certificate Transparency test suite, and the roots RFC 6962 hashing gives them.
const INPUTS = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const leaves = INPUTS.map((h) => leafHash(Buffer.from(h, 'hex')));

function tree(n: number): Hash[] {
  return Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`event ${i}`)));
}

function flipBit(h: Hash, bit: number): Hash {
  const copy = Buffer.from(h);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe('RFC 6962 Merkle tree', () => {
  it('hashes the empty tree and the reference vectors to the published roots', () => {
    assert.equal(
      rootHash([]).toString('hex'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    ROOTS.forEach((root, i) =>
      assert.equal(rootHash(leaves.slice(0, i + 1)).toString('hex'), root, `size ${i + 1}`),
    );
  });

  it('proves and verifies the inclusion of every leaf of every tree up to 40 leaves', () => {
    for (let n = 1; n <= 40; n++) {
      const t = tree(n);
      const root = rootHash(t);
      for (let m = 0; m < n; m++) {
        assert.ok(
          verifyInclusion(t[m]!, BigInt(m), BigInt(n), inclusionProof(t, m), root),
          `leaf ${m} of ${n}`,
        );
      }
    }
  });

  it('proves and verifies consistency between every pair of sizes up to 40', () => {
    const t = tree(40);
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(t, m, n);
        assert.ok(
          verifyConsistency(BigInt(m), BigInt(n), rootHash(t, 0, m), rootHash(t, 0, n), proof),
          `${m}→${n}`,
        );
      }
    }
  });

  describe('refuses bad inclusion proofs (negative vectors)', () => {
    const big = tree(32);
    const t = big.slice(0, 13);
    const root = rootHash(t);
    const proof = inclusionProof(t, 5);
    const ok = (p: readonly Hash[], index = 5n, size = 13n, r = root, leaf = t[5]!): boolean =>
      verifyInclusion(leaf, index, size, p, r);
    it('accepts the genuine proof (control)', () => assert.ok(ok(proof)));
    it('flipped bits anywhere in the proof, the leaf or the root', () => {
      for (let i = 0; i < proof.length; i++) {
        for (const bit of [0, 77, 255]) assert.ok(!ok(proof.map((p, j) => (j === i ? flipBit(p, bit) : p))));
      }
      assert.ok(!ok(proof, 5n, 13n, root, flipBit(t[5]!, 3)));
      assert.ok(!ok(proof, 5n, 13n, flipBit(root, 200)));
    });
    it('wrong leaf index, wrong tree size, index beyond the tree', () => {
      for (const index of [4n, 6n, 0n, 12n, 13n, -1n]) assert.ok(!ok(proof, index));
      // Sizes that change the path's shape fail outright; for the others the size is bound by the root, which a signed
      // checkpoint publishes with it: the proof never verifies against the real root of a tree of another size.
      for (const size of [0n, 1n, 5n, 6n, 8n, 17n, 32n]) assert.ok(!ok(proof, 5n, size), `size ${size}`);
      for (let size = 9; size <= 16; size++) {
        if (size !== 13) assert.ok(!ok(proof, 5n, BigInt(size), rootHash(big, 0, size)), `size ${size}`);
      }
    });
    it('truncated, padded, reordered or empty proofs and swapped roots', () => {
      assert.ok(!ok(proof.slice(0, -1)));
      assert.ok(!ok([...proof, proof[0]!]));
      assert.ok(!ok([...proof].reverse()));
      assert.ok(!ok([]));
      assert.ok(!ok(proof, 5n, 13n, rootHash(t, 0, 12)));
      assert.ok(!ok(proof.map((p) => p.subarray(0, 31))));
    });
  });

  describe('refuses bad consistency proofs (negative vectors)', () => {
    const big = tree(32);
    const t = big.slice(0, 21);
    const [m, n] = [6, 21];
    const r1 = rootHash(t, 0, m);
    const r2 = rootHash(t, 0, n);
    const proof = consistencyProof(t, m, n);
    it('accepts the genuine proof (control)', () => assert.ok(verifyConsistency(6n, 21n, r1, r2, proof)));
    it('flipped bits, swapped roots, wrong sizes, truncated, padded and empty proofs', () => {
      for (let i = 0; i < proof.length; i++) {
        assert.ok(
          !verifyConsistency(
            6n,
            21n,
            r1,
            r2,
            proof.map((p, j) => (j === i ? flipBit(p, 9) : p)),
          ),
        );
      }
      assert.ok(!verifyConsistency(6n, 21n, r2, r1, proof));
      assert.ok(!verifyConsistency(21n, 6n, r2, r1, proof));
      for (const [a, b] of [
        [5n, 21n],
        [7n, 21n],
        [0n, 21n],
        [6n, 16n],
      ] as const) {
        assert.ok(!verifyConsistency(a, b, r1, r2, proof), `${a}→${b}`);
      }
      // As with inclusion, the second size is bound by its root (published together in a signed checkpoint).
      for (const b of [17, 20, 22, 32]) {
        assert.ok(
          !verifyConsistency(6n, BigInt(b), r1, rootHash(big, 0, b), proof),
          `6→${b} with that tree's root`,
        );
      }
      assert.ok(!verifyConsistency(6n, 21n, r1, r2, proof.slice(1)));
      assert.ok(!verifyConsistency(6n, 21n, r1, r2, [...proof, proof[0]!]));
      assert.ok(!verifyConsistency(6n, 21n, r1, r2, []));
    });
    it('a removed event with the chain recomputed is caught against the published root', () => {
      const rewritten = [...t.slice(0, 3), ...t.slice(4)];
      const forged = consistencyProof(rewritten, m, n - 1);
      assert.ok(
        !verifyConsistency(6n, 20n, r1, rootHash(rewritten), forged),
        'the earlier checkpoint no longer matches',
      );
      assert.ok(!verifyConsistency(6n, 21n, r1, r2, consistencyProof(rewritten, m, n - 1)));
    });
    it('equal sizes are consistent only with equal roots and an empty proof', () => {
      assert.ok(verifyConsistency(21n, 21n, r2, r2, []));
      assert.ok(!verifyConsistency(21n, 21n, r2, r1, []));
      assert.ok(!verifyConsistency(21n, 21n, r2, r2, [r1]));
    });
  });

  it('property: a proof verifies for exactly its own leaf and position', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.nat(), fc.nat(), (n, a, b) => {
        const t = tree(n);
        const i = a % n;
        const j = b % n;
        const proof = inclusionProof(t, i);
        assert.equal(
          verifyInclusion(t[j]!, BigInt(i), BigInt(n), proof, rootHash(t)),
          i === j || t[i]!.equals(t[j]!),
        );
      }),
      { numRuns: 200 },
    );
  });
});
