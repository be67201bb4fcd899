import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ed25519SigningKey, hmacKeyBytes, signatureHeaders } from './webhook-signature.js';

describe('Standard Webhooks signatures', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const body = JSON.stringify({ type: 'alert.raised', data: { id: 'phigate-alert-1' } });
  const now = Math.floor(Date.now() / 1000);

  it('v1 (HMAC-SHA256) verifies with the reference library', () => {
    const headers = signatureHeaders({ hmacSecret: secret }, 'phigate-alert-1', now, body);
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
  });

  it('the reference library refuses a changed body, id or another secret', () => {
    const headers = signatureHeaders({ hmacSecret: secret }, 'phigate-alert-1', now, body);
    assert.throws(() => new Webhook(secret).verify(`${body} `, headers));
    assert.throws(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'phigate-alert-2' }));
    const other = `whsec_${randomBytes(32).toString('base64')}`;
    assert.throws(() => new Webhook(other).verify(body, headers));
  });

  it('v1a (Ed25519) verifies over id.timestamp.body with the public key, next to v1', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const headers = signatureHeaders(
      { hmacSecret: secret, ed25519: ed25519SigningKey(pem) },
      'phigate-alert-1',
      now,
      body,
    );
    const signatures = headers['webhook-signature']!.split(' ');
    assert.equal(signatures.length, 2);
    const v1a = signatures.find((s) => s.startsWith('v1a,'))!.slice(4);
    const content = Buffer.from(`phigate-alert-1.${now}.${body}`);
    assert.ok(verify(null, content, publicKey, Buffer.from(v1a, 'base64')));
    assert.ok(!verify(null, Buffer.from(`x${content.toString()}`), publicKey, Buffer.from(v1a, 'base64')));
    // The reference library still accepts the v1 signature beside it.
    new Webhook(secret).verify(body, headers);
  });

  it('reads a whsk_ seed as the same key as its PEM', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const seed = privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32);
    const fromSeed = ed25519SigningKey(`whsk_${seed.toString('base64')}`);
    assert.deepEqual(
      fromSeed.export({ type: 'pkcs8', format: 'der' }),
      privateKey.export({ type: 'pkcs8', format: 'der' }),
    );
  });

  it('refuses malformed keys with a clear message', () => {
    assert.throws(() => hmacKeyBytes('secret'), /starts with whsec_/);
    assert.throws(() => hmacKeyBytes('whsec_AAAA'), /24 to 64 bytes/);
    assert.throws(() => ed25519SigningKey('nonsense'), /Ed25519 private key/);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(
      () => ed25519SigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      /must be an Ed25519 key/,
    );
  });
});
