import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { signCheckpoint } from './checkpoint.js';
import { LogVerifier, firstBad, firstRange, type CheckpointClaim } from './log-verifier.js';
import { leafHash, rootHash } from './merkle.js';

const key = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const events = Array.from({ length: 40 }, (_, i) => Buffer.from(`{"n":${i}}`));
const leaves = events.map((e) => leafHash(e));

function claim(
  size: number,
  signer = key.privateKey,
  origin = 'log',
  root = rootHash(leaves, 0, size),
): CheckpointClaim {
  const signed = signCheckpoint({ origin, size: BigInt(size), rootHash: root, time: new Date(0) }, signer);
  return { source: 'test', body: signed.body, signature: signed.signature };
}

function run(claims: CheckpointClaim[], feed: (v: LogVerifier) => void) {
  const v = new LogVerifier({ claims, trustedKeys: [key.publicKey], origin: 'log' });
  feed(v);
  return v.finish();
}

const all = (v: LogVerifier) => events.forEach((e, i) => v.push(i + 1, e, leaves[i]));

describe('log verifier', () => {
  it('accepts an intact log and every checkpoint along it', () => {
    const report = run([claim(1), claim(17), claim(32), claim(40)], all);
    assert.equal(report.ok, true);
    assert.equal(report.checkpointsVerified, 4);
    assert.equal(report.signedSize, 40);
    assert.equal(report.rootHash, rootHash(leaves).toString('base64'));
  });

  it('names a gap, a duplicate and an event whose bytes no longer match its stored leaf', () => {
    const gap = run([], (v) => events.forEach((e, i) => i !== 9 && v.push(i + 1, e, leaves[i])));
    assert.deepEqual(
      gap.problems.map((p) => [p.code, p.seq]),
      [['log.gap', 10]],
    );
    const dup = run([], (v) => {
      all(v);
      v.push(40, events[39]!, leaves[39]);
    });
    assert.equal(dup.firstBadSeq, 40);
    const altered = run([claim(40)], (v) =>
      events.forEach((e, i) => v.push(i + 1, i === 22 ? Buffer.from('{"n":999}') : e, leaves[i])),
    );
    assert.equal(altered.firstBadSeq, 23, 'the exact seq wins over the range of the differing root');
    assert.ok(altered.problems.some((p) => p.code === 'checkpoint.mismatch'));
  });

  it('locates a self-consistent rewrite after the last checkpoint that still matches', () => {
    const rewritten = [...events];
    rewritten[25] = Buffer.from('{"n":"forged"}');
    const report = run([claim(10), claim(20), claim(30), claim(40)], (v) =>
      rewritten.forEach((e, i) => v.push(i + 1, e)),
    );
    assert.equal(report.ok, false);
    // No row shows which event changed: the report says which range is inconsistent, and names no event.
    assert.equal(report.firstBadSeq, undefined);
    assert.deepEqual(report.inconsistentRange, { from: 21, to: 30 });
    assert.match(report.problems[0]!.message, /range 21–30 .* is inconsistent/);
  });

  it('refuses checkpoints signed by another key or naming another log, and a log shorter than a checkpoint', () => {
    const report = run(
      [
        claim(40, other.privateKey),
        claim(20, key.privateKey, 'elsewhere'),
        claim(45, key.privateKey, 'log', leaves[0]),
      ],
      all,
    );
    assert.deepEqual(report.problems.map((p) => p.code).sort(), [
      'checkpoint.bad-signature',
      'checkpoint.other-log',
      'log.truncated',
    ]);
    assert.equal(report.firstBadSeq, 41);
  });

  it('caps the problems it collects, and an empty log with no claims is fine', () => {
    const v = new LogVerifier({ claims: [], trustedKeys: [key.publicKey], maxProblems: 3 });
    for (let i = 0; i < 10; i++) v.push(1, events[0]!);
    assert.equal(v.finish().problems.length, 3);
    assert.equal(run([], () => undefined).ok, true);
  });

  it('firstBad names only exact findings; firstRange the first range no exact finding inside explains', () => {
    const explained = [
      { code: 'a', message: '', seq: 5, lastSeq: 9 },
      { code: 'b', message: '', seq: 7 },
    ];
    assert.equal(firstBad(explained), 7);
    assert.equal(firstRange(explained), undefined);
    const unexplained = [
      { code: 'a', message: '', seq: 5, lastSeq: 9 },
      { code: 'b', message: '', seq: 12 },
    ];
    assert.equal(firstBad(unexplained), 12, 'never the start of a range');
    assert.deepEqual(firstRange(unexplained), { from: 5, to: 9 });
    assert.equal(firstBad([{ code: 'a', message: '' }]), undefined);
  });
});
