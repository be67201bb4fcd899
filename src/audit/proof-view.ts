/**
 * Proofs as handed to auditors, and their offline verification. A proof carries the signed checkpoint it is relative
 * to, so that checking it needs nothing but the proof and the auditor's copy of the public key: the signature vouches
 * for (size, root), the path links the event's bytes to that root.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { verifyCheckpoint } from './checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';

export interface SignedCheckpointView {
  readonly body: string;
  readonly keyId: string;
  readonly signature: string;
}

export interface InclusionProofView {
  readonly seq: number;
  readonly leafIndex: number;
  readonly treeSize: number;
  /** The event's canonical JSON text: its UTF-8 bytes are the leaf's data. */
  readonly event: string;
  readonly leafHash: string;
  readonly auditPath: readonly string[];
  readonly checkpoint: SignedCheckpointView;
}

export interface ConsistencyProofView {
  readonly fromSize: number;
  readonly toSize: number;
  readonly proof: readonly string[];
  readonly from: SignedCheckpointView;
  readonly to: SignedCheckpointView;
}

export interface ProofCheck {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

const BASE64_HASH = /^[A-Za-z0-9+/]{43}=$/;
const EMPTY_ROOT = createHash('sha256').digest();

function hashes(values: unknown): Buffer[] | undefined {
  if (!Array.isArray(values) || values.length > 128) return undefined;
  if (!values.every((v) => typeof v === 'string' && BASE64_HASH.test(v))) return undefined;
  return values.map((v: string) => Buffer.from(v, 'base64'));
}

export function checkInclusionProof(view: InclusionProofView, key: KeyObject): ProofCheck {
  const problems: string[] = [];
  const checkpoint = verifyCheckpoint(view.checkpoint?.body ?? '', view.checkpoint?.signature ?? '', key);
  if (!checkpoint) problems.push('the checkpoint is not signed by this key');
  if (typeof view.event !== 'string') problems.push('the proof carries no event');
  const path = hashes(view.auditPath);
  if (!path) problems.push('the audit path is not a list of SHA-256 hashes');
  if (!Number.isSafeInteger(view.seq) || view.leafIndex !== view.seq - 1) {
    problems.push('the leaf index does not match the sequence number');
  }
  if (checkpoint && BigInt(view.treeSize) !== checkpoint.size) {
    problems.push(`the proof is for a tree of ${view.treeSize}, the checkpoint for ${checkpoint.size}`);
  }
  if (problems.length > 0 || !checkpoint || !path) return { ok: false, problems };
  const leaf = leafHash(Buffer.from(view.event, 'utf8'));
  if (leaf.toString('base64') !== view.leafHash)
    problems.push("the event's bytes do not hash to the leaf given");
  if (!verifyInclusion(leaf, BigInt(view.leafIndex), checkpoint.size, path, checkpoint.rootHash)) {
    problems.push('the audit path does not lead from this event to the signed root');
  }
  return { ok: problems.length === 0, problems };
}

export function checkConsistencyProof(view: ConsistencyProofView, key: KeyObject): ProofCheck {
  const problems: string[] = [];
  const first = verifyCheckpoint(view.from?.body ?? '', view.from?.signature ?? '', key);
  const second = verifyCheckpoint(view.to?.body ?? '', view.to?.signature ?? '', key);
  if (!first || !second) problems.push('a checkpoint is not signed by this key');
  const proof = hashes(view.proof);
  if (!proof) problems.push('the proof is not a list of SHA-256 hashes');
  if (problems.length > 0 || !first || !second || !proof) return { ok: false, problems };
  if (first.origin !== second.origin) problems.push('the checkpoints are of different logs');
  if (first.size === 0n) {
    // The empty log is a prefix of every log; there is nothing to prove — but what was signed for it must be the
    // empty tree's root (SHA-256 of nothing), as transparency-dev/merkle requires: any other root is no log at all.
    if (proof.length > 0) problems.push('a proof from the empty log must be empty');
    if (!first.rootHash.equals(EMPTY_ROOT))
      problems.push('a checkpoint of the empty log signs a root other than the empty tree’s');
  } else if (!verifyConsistency(first.size, second.size, first.rootHash, second.rootHash, proof)) {
    problems.push(`the log of ${second.size} events does not extend the log of ${first.size}`);
  }
  return { ok: problems.length === 0, problems };
}
