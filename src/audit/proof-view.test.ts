import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { publicKeyId, signCheckpoint } from './checkpoint.js';
import { consistencyProof, inclusionProof, leafHash, rootHash } from './merkle.js';
import { checkConsistencyProof, checkInclusionProof, type InclusionProofView } from './proof-view.js';

const key = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const events = Array.from({ length: 21 }, (_, i) => `{"n":${i}}`);
const leaves = events.map((e) => leafHash(Buffer.from(e)));
const b64 = (h: Buffer) => h.toString('base64');

function signed(size: number, signer = key.privateKey) {
  const s = signCheckpoint(
    { origin: 'log', size: BigInt(size), rootHash: rootHash(leaves, 0, size), time: new Date(0) },
    signer,
  );
  return { body: s.body, signature: s.signature, keyId: publicKeyId(key.publicKey) };
}

function inclusion(seq: number, size = 21): InclusionProofView {
  return {
    seq,
    leafIndex: seq - 1,
    treeSize: size,
    event: events[seq - 1]!,
    leafHash: b64(leaves[seq - 1]!),
    auditPath: inclusionProof(leaves, seq - 1, size).map(b64),
    checkpoint: signed(size),
  };
}

describe('proof views, checked with only the public key', () => {
  it('accepts genuine inclusion proofs', () => {
    for (const seq of [1, 7, 21])
      assert.deepEqual(checkInclusionProof(inclusion(seq), key.publicKey), { ok: true, problems: [] });
  });

  it('refuses every kind of tampering with an inclusion proof', () => {
    const p = inclusion(7);
    const bad: [string, InclusionProofView][] = [
      ['edited event', { ...p, event: '{"n":99}' }],
      ['leaf hash of another event', { ...p, leafHash: b64(leaves[8]!) }],
      ['wrong index', { ...p, leafIndex: 7 }],
      ['wrong seq', { ...p, seq: 8, leafIndex: 7 }],
      ['tree size other than the checkpoint', { ...p, treeSize: 20 }],
      ['truncated path', { ...p, auditPath: p.auditPath.slice(1) }],
      ['padded path', { ...p, auditPath: [...p.auditPath, b64(leaves[0]!)] }],
      ['empty path', { ...p, auditPath: [] }],
      ['path of another leaf', { ...p, auditPath: inclusionProof(leaves, 8, 21).map(b64) }],
      ['not hashes', { ...p, auditPath: ['nope'] }],
      ['checkpoint by another key', { ...p, checkpoint: signed(21, other.privateKey) }],
      ['checkpoint of another size', { ...p, checkpoint: signed(20) }],
      ['damaged signature', { ...p, checkpoint: { ...p.checkpoint, signature: signed(20).signature } }],
    ];
    for (const [what, view] of bad) assert.equal(checkInclusionProof(view, key.publicKey).ok, false, what);
  });

  it('checks consistency proofs, from the empty log too, and refuses swapped or foreign checkpoints', () => {
    const view = {
      fromSize: 6,
      toSize: 21,
      proof: consistencyProof(leaves, 6, 21).map(b64),
      from: signed(6),
      to: signed(21),
    };
    assert.equal(checkConsistencyProof(view, key.publicKey).ok, true);
    assert.equal(
      checkConsistencyProof({ ...view, from: signed(21), to: signed(6) }, key.publicKey).ok,
      false,
    );
    assert.equal(checkConsistencyProof({ ...view, proof: view.proof.slice(1) }, key.publicKey).ok, false);
    assert.equal(
      checkConsistencyProof({ ...view, to: signed(21, other.privateKey) }, key.publicKey).ok,
      false,
    );
    const fromEmpty = { fromSize: 0, toSize: 21, proof: [], from: signed(0), to: signed(21) };
    assert.equal(checkConsistencyProof(fromEmpty, key.publicKey).ok, true);
    assert.equal(checkConsistencyProof({ ...fromEmpty, proof: [b64(leaves[0]!)] }, key.publicKey).ok, false);
  });

  it('refuses a signed size-0 checkpoint whose root is not the empty tree’s (SHA-256 of "") (issue 15)', () => {
    assert.equal(rootHash(leaves, 0, 0).toString('hex'), createHash('sha256').update('').digest('hex'));
    for (const root of [leaves[0]!, rootHash(leaves, 0, 21), Buffer.alloc(32)]) {
      const forged = signCheckpoint(
        { origin: 'log', size: 0n, rootHash: root, time: new Date(0) },
        key.privateKey,
      );
      const view = {
        fromSize: 0,
        toSize: 21,
        proof: [],
        from: { body: forged.body, keyId: 'k', signature: forged.signature },
        to: signed(21),
      };
      const check = checkConsistencyProof(view, key.publicKey);
      assert.equal(check.ok, false);
      assert.match(check.problems.join(), /empty tree/);
    }
  });
});
