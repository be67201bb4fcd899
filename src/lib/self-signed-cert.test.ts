import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
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

  it('encodes any serial number in minimal DER, so OpenSSL accepts serials that start with zero or high bits', () => {
    // Random serials once produced a redundant leading zero about one time in 256, which OpenSSL refuses.
    for (const serialNumber of [
      Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'),
      Buffer.from('0000ff', 'hex'),
      Buffer.from('80', 'hex'),
      Buffer.from('01', 'hex'),
    ]) {
      const made = createSelfSignedCertificate({ commonName: 'x', altNames: ['localhost'], serialNumber });
      const cert = new X509Certificate(made.certPem);
      assert.equal(
        cert.serialNumber.replace(/^(00)+(?=.)/, ''),
        serialNumber
          .toString('hex')
          .toUpperCase()
          .replace(/^(00)+(?=.)/, ''),
      );
      assert.doesNotThrow(() => createSecureContext({ cert: made.certPem, key: made.keyPem }));
    }
    assert.throws(
      () => createSelfSignedCertificate({ commonName: 'x', altNames: [], serialNumber: Buffer.alloc(2) }),
      RangeError,
    );
  });
});
