import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  loadSigningKey,
  loadVerifyingKey,
  parseCheckpointBody,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.js';
import { leafHash, rootHash } from './merkle.js';

function keys() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    signing: loadSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    verifying: loadVerifyingKey(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

const checkpoint = {
  origin: 'phigate.example.org/audit',
  size: 3n,
  rootHash: rootHash(['a', 'b', 'c'].map((s) => leafHash(Buffer.from(s)))),
  time: new Date('2026-11-22T10:00:00.000Z'),
};

describe('signed checkpoints', () => {
  const { signing, verifying } = keys();
  const signed = signCheckpoint(checkpoint, signing);

  it('verifies with only the public key and returns what it vouches for', () => {
    const seen = verifyCheckpoint(signed.body, signed.signature, verifying);
    assert.ok(seen);
    assert.equal(seen.size, 3n);
    assert.ok(seen.rootHash.equals(checkpoint.rootHash));
    assert.match(
      signed.body,
      /^phigate-audit-checkpoint\/v1\nphigate\.example\.org\/audit\n3\n[A-Za-z0-9+/]{43}=\n2026-11-22T10:00:00\.000Z\n$/,
    );
  });

  it('refuses a changed size, root, time or origin, another key, and a damaged signature', () => {
    for (const body of [
      signed.body.replace('\n3\n', '\n4\n'),
      signed.body.replace(/\n[A-Za-z0-9+/]{43}=\n/, `\n${Buffer.alloc(32).toString('base64')}\n`),
      signed.body.replace('10:00:00', '10:00:01'),
      signed.body.replace('phigate.example.org', 'phigate.example.com'),
    ]) {
      assert.equal(verifyCheckpoint(body, signed.signature, verifying), undefined);
    }
    assert.equal(verifyCheckpoint(signed.body, signed.signature, keys().verifying), undefined);
    const sig = Buffer.from(signed.signature, 'base64');
    sig[10]! ^= 1;
    assert.equal(verifyCheckpoint(signed.body, sig.toString('base64'), verifying), undefined);
    assert.equal(verifyCheckpoint(signed.body, '', verifying), undefined);
  });

  it('parses only the one canonical form of a body', () => {
    assert.ok(parseCheckpointBody(signed.body));
    for (const body of [
      signed.body.trimEnd(),
      `${signed.body}\n`,
      signed.body.replace('\n3\n', '\n03\n'),
      signed.body.replace('\n3\n', '\n+3\n'),
      signed.body.replace('\n', '\r\n'),
      signed.body.replace('.000Z', 'Z'),
      signed.body.replace('v1', 'v2'),
    ]) {
      assert.equal(parseCheckpointBody(body), undefined, JSON.stringify(body));
    }
  });

  it('refuses keys that are not Ed25519', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(
      () => loadSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      /Ed25519/,
    );
  });
});
