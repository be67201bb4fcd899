import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseEmail, personClaimValue, personKeyKind, personKeysOf } from './person.js';

describe('normaliseEmail', () => {
  it('gives one form to spellings a mail system delivers to one mailbox', () => {
    for (const spelling of [
      'dan.analyst@clinic.example',
      ' Dan.Analyst@CLINIC.example ',
      'dan.analyst+partner@clinic.example',
      'DAN.ANALYST+a+b@clinic.example.',
    ]) {
      assert.equal(normaliseEmail(spelling), 'dan.analyst@clinic.example', spelling);
    }
  });
  it('drops dots in Gmail local parts and reads googlemail.com as gmail.com, and only there', () => {
    assert.equal(normaliseEmail('Dan.Analyst+x@googlemail.com'), 'dananalyst@gmail.com');
    assert.equal(normaliseEmail('dananalyst@gmail.com'), 'dananalyst@gmail.com');
    assert.equal(normaliseEmail('dan.analyst@clinic.example'), 'dan.analyst@clinic.example');
  });
  it('writes international domains in ASCII, so both spellings of one domain compare equal', () => {
    assert.equal(normaliseEmail('ana@bücher.example'), normaliseEmail('ana@xn--bcher-kva.example'));
    assert.equal(normaliseEmail('ana@BÜCHER.example'), 'ana@xn--bcher-kva.example');
  });
  it('refuses what is not one plain address rather than guess', () => {
    for (const bad of [
      '',
      '   ',
      'dan',
      '@clinic.example',
      'dan@',
      'a@b@c',
      'dan @clinic.example',
      'd\u0000@x.example',
      `${'a'.repeat(250)}@x.example`,
    ]) {
      assert.equal(normaliseEmail(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(
      normaliseEmail('+tag@clinic.example'),
      '+tag@clinic.example',
      'a local part that is only a tag stays',
    );
  });
});

describe('personKeysOf', () => {
  it('uses the e-mail only when the issuer verified it', () => {
    assert.deepEqual(personKeysOf({ email: 'Dan@clinic.example', emailVerified: true }), [
      { kind: 'email', value: 'dan@clinic.example' },
    ]);
    assert.deepEqual(personKeysOf({ email: 'dan@clinic.example', emailVerified: false }), []);
    assert.deepEqual(personKeysOf({ email: 'dan@clinic.example' }), []);
    assert.deepEqual(personKeysOf({ email: 'not an address', emailVerified: true }), []);
  });
  it('adds each configured person claim, in name order', () => {
    assert.deepEqual(
      personKeysOf({
        email: undefined,
        personClaims: { employee_number: 'E-1001', badge: '77' },
      }),
      [
        { kind: 'claim:badge', value: '77' },
        { kind: 'claim:employee_number', value: 'E-1001' },
      ],
    );
  });
});

describe('personClaimValue', () => {
  it('accepts trimmed non-empty strings and integers, nothing else', () => {
    assert.equal(personClaimValue(' E-1001 '), 'E-1001');
    assert.equal(personClaimValue(1001), '1001');
    for (const bad of [
      '',
      '  ',
      1.5,
      Number.MAX_SAFE_INTEGER + 2,
      true,
      null,
      ['E-1'],
      { id: 1 },
      'x'.repeat(257),
    ]) {
      assert.equal(personClaimValue(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('personKeyKind', () => {
  it('reads the kind of a stored key, claim names with colons included', () => {
    assert.equal(personKeyKind('email:pk_abc'), 'email');
    assert.equal(personKeyKind('claim:employee_number:pk_abc'), 'claim:employee_number');
    assert.equal(personKeyKind('claim:urn:example:staff-id:pk_abc'), 'claim:urn:example:staff-id');
    assert.equal(personKeyKind('pk_abc'), 'unknown');
  });
});
