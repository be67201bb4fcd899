import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';
import { startScram } from './scram-client.js';

// RFC 7677 §3 test vector: user "user", password "pencil".
const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

describe('SCRAM-SHA-256 client', () => {
  it('reproduces RFC 7677 — except that PostgreSQL takes the user name from the startup packet', () => {
    // The RFC's client-first carries n=user; ours carries n= (as libpq), so recompute the expected proof for it.
    const s = startScram('pencil', CLIENT_NONCE);
    assert.equal(s.clientFirst, `n,,n=,r=${CLIENT_NONCE}`);
    const final = s.respond(SERVER_FIRST);
    const salted = pbkdf2Sync(
      'pencil',
      Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
      4096,
      32,
      'sha256',
    );
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const auth = `n=,r=${CLIENT_NONCE},${SERVER_FIRST},c=biws,r=${SERVER_FIRST.slice(2, SERVER_FIRST.indexOf(','))}`;
    const sig = createHmac('sha256', createHash('sha256').update(clientKey).digest()).update(auth).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!)).toString('base64');
    assert.equal(final, `${CLIENT_FINAL.slice(0, CLIENT_FINAL.indexOf(',p='))},p=${proof}`);
    const serverSig = createHmac('sha256', createHmac('sha256', salted).update('Server Key').digest())
      .update(auth)
      .digest();
    s.verify(`v=${serverSig.toString('base64')}`);
  });

  it('refuses a server that does not extend our nonce, asks for too few iterations, or cannot prove the password', () => {
    assert.throws(() => startScram('pencil', CLIENT_NONCE).respond('r=other,s=AAAA,i=4096'), /nonce/);
    assert.throws(
      () => startScram('pencil', CLIENT_NONCE).respond(`r=${CLIENT_NONCE}x,s=AAAA,i=1`),
      /iteration/,
    );
    const s = startScram('pencil', CLIENT_NONCE);
    s.respond(SERVER_FIRST);
    assert.throws(
      () => s.verify(SERVER_FINAL),
      /did not prove/,
      "the RFC's signature is for n=user, not ours",
    );
    assert.throws(() => s.verify('e=invalid-proof'), /refused/);
    assert.throws(() => startScram('x').respond('garbage'), /malformed/);
  });
});
