import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSelfSignedCertificate } from './self-signed-cert.js';

describe('self-signed certificate', () => {
  it('is a valid X.509 v3 certificate for the names given, signed by its own key', () => {
    const now = new Date('2026-11-22T00:00:00Z');
    const made = createSelfSignedCertificate({
      commonName: 'phigate test',
      altNames: ['localhost', '127.0.0.1', '::1'],
      now,
      validDays: 30,
    });
    const cert = new X509Certificate(made.certPem);
    assert.equal(cert.subject, 'CN=phigate test');
    assert.equal(cert.issuer, cert.subject);
    assert.ok(cert.verify(cert.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(made.keyPem)));
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('example.com'), undefined);
    assert.equal(new Date(cert.validTo).getTime(), now.getTime() + 30 * 86_400_000);
  });

  it('writes dates from 2050 on as GeneralizedTime', () => {
    const made = createSelfSignedCertificate({
      commonName: 'x',
      altNames: ['localhost'],
      now: new Date('2049-12-01T00:00:00Z'),
      validDays: 60,
    });
    assert.equal(new Date(new X509Certificate(made.certPem).validTo).getUTCFullYear(), 2050);
  });
});
