/**
 * RFC 6962 / RFC 9162 Merkle tree hashing: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), and
 * the audit path (inclusion) and consistency proofs with their verifiers. Pure; works on leaf hashes held in memory.
 * The verifiers are the security boundary of the tamper-evident log: they accept exactly the RFC's proofs.
 */
import { createHash, hash } from 'node:crypto';

export type Hash = Buffer;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

// Verification hashes twice per event; one-shot `crypto.hash` over one buffer costs about half of a Hash object's
// create-update-digest round trip, which is most of the price of hashing 65 bytes.
export function leafHash(data: Uint8Array): Hash {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

/** Reused input buffer: 0x01 ‖ left ‖ right. Safe because hashing is synchronous. */
const nodeInput = Buffer.alloc(65, 0x01);

export function nodeHash(left: Hash, right: Hash): Hash {
  if (left.length !== 32 || right.length !== 32)
    return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
  left.copy(nodeInput, 1);
  right.copy(nodeInput, 33);
  return hash('sha256', nodeInput, 'buffer');
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
export function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) over leaf hashes; the empty tree's hash is SHA-256 of nothing. */
export function rootHash(leaves: readonly Hash[], from = 0, to = leaves.length): Hash {
  const n = to - from;
  if (n === 0) return createHash('sha256').digest();
  if (n === 1) return leaves[from]!;
  const k = split(n);
  return nodeHash(rootHash(leaves, from, from + k), rootHash(leaves, from + k, to));
}

/** The hash of leaves [from, to): how a proof gets subtree hashes, from memory or from stored nodes. */
export type SubtreeHash = (from: number, to: number) => Hash;

/** PATH(m, D[n]) (RFC 6962 §2.1.1), with subtree hashes from `mth`. */
export function inclusionPath(index: number, size: number, mth: SubtreeHash): Hash[] {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new RangeError(`no leaf ${index} in a tree of ${size}`);
  }
  const path = (m: number, from: number, to: number): Hash[] => {
    const n = to - from;
    if (n === 1) return [];
    const k = split(n);
    return m < k
      ? [...path(m, from, from + k), mth(from + k, to)]
      : [...path(m - k, from + k, to), mth(from, from + k)];
  };
  return path(index, 0, size);
}

/** PROOF(m, D[n]) (RFC 6962 §2.1.2), with subtree hashes from `mth`. */
export function consistencyPath(first: number, second: number, mth: SubtreeHash): Hash[] {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 1 || first > second) {
    throw new RangeError(`no consistency proof from ${first} to ${second}`);
  }
  const sub = (m: number, from: number, to: number, whole: boolean): Hash[] => {
    const n = to - from;
    if (m === n) return whole ? [] : [mth(from, to)];
    const k = split(n);
    return m <= k
      ? [...sub(m, from, from + k, whole), mth(from + k, to)]
      : [...sub(m - k, from + k, to, false), mth(from, from + k)];
  };
  return sub(first, 0, second, true);
}

/** PATH(m, D[n]): the audit path of leaf m in the tree of the first n leaves held in memory. */
export function inclusionProof(leaves: readonly Hash[], index: number, size = leaves.length): Hash[] {
  if (size > leaves.length) throw new RangeError(`no leaf ${index} in a tree of ${size}`);
  return inclusionPath(index, size, (from, to) => rootHash(leaves, from, to));
}

/** PROOF(m, D[n]): that the tree of the first m leaves is a prefix of the tree of the first n. */
export function consistencyProof(leaves: readonly Hash[], first: number, second = leaves.length): Hash[] {
  if (second > leaves.length) throw new RangeError(`no consistency proof from ${first} to ${second}`);
  return consistencyPath(first, second, (from, to) => rootHash(leaves, from, to));
}

const isOdd = (x: bigint): boolean => (x & 1n) === 1n;

/** RFC 9162 §2.1.3.2. Indices are bigints so that no tree size can overflow the arithmetic. */
export function verifyInclusion(
  leaf: Hash,
  index: bigint,
  size: bigint,
  proof: readonly Hash[],
  root: Hash,
): boolean {
  if (index < 0n || index >= size || leaf.length !== 32 || root.length !== 32) return false;
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0n) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}

const isPowerOfTwo = (x: bigint): boolean => x > 0n && (x & (x - 1n)) === 0n;

/** RFC 9162 §2.1.4.2. Equal sizes are consistent only with an empty proof and equal roots. */
export function verifyConsistency(
  first: bigint,
  second: bigint,
  firstRoot: Hash,
  secondRoot: Hash,
  proof: readonly Hash[],
): boolean {
  if (first < 1n || first > second || firstRoot.length !== 32 || secondRoot.length !== 32) return false;
  if (proof.some((p) => p.length !== 32)) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1n;
  let sn = second - 1n;
  while (isOdd(fn)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0n;
}
