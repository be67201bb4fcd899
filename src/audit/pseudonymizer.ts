/**
 * Keyed tokens for values the audit log must be able to find but must never hold: patient identifiers, SQL
 * literals and person keys. HMAC-SHA-256 under a key that lives outside the store (a file or the config), so that someone who reads or
 * steals the database cannot test guesses ("is MRN 12345 in here?") without the key, while the same patient always
 * gives the same token and a disclosures report can find every event about them.
 *
 * Patient and literal tokens are domain-separated (a literal equal to a patient id does not give the patient's
 * token), and the key has a public id (a hash of it) so that replicas configured with different keys are caught
 * before they write tokens that can never be matched.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { PatientToken } from './event.js';

export interface Pseudonymizer {
  /** `pt_` + 22 base64url characters (128 bits): collisions are out of reach for any real patient population. */
  patient(id: string): PatientToken;
  /** `lt_` + 16 base64url characters (96 bits): enough to tell literals apart within and across statements. */
  literal(value: string): string;
  /**
   * `pk_` + 22 base64url characters (128 bits): a person key (a normalised verified e-mail, an employee number) as
   * the store and the audit log keep it, so that accounts of one person can be linked without either holding the
   * address. `kind` and `value` are hashed as one unambiguous pair.
   */
  person(kind: string, value: string): string;
  /** Public identifier of the key, safe to store and print. */
  readonly keyId: string;
}

export const MIN_KEY_BYTES = 32;
const PATIENT_TOKEN = /^pt_[A-Za-z0-9_-]{22}$/;

export function createPseudonymizer(key: Buffer): Pseudonymizer {
  if (key.length < MIN_KEY_BYTES) {
    throw new RangeError(`the audit HMAC key must be at least ${MIN_KEY_BYTES} bytes (it is ${key.length})`);
  }
  const secret = Buffer.from(key);
  const mac = (domain: string, value: string, bytes: number): string =>
    createHmac('sha256', secret)
      .update(domain)
      .update('\u0000')
      .update(value, 'utf8')
      .digest()
      .subarray(0, bytes)
      .toString('base64url');
  return {
    patient: (id) => `pt_${mac('phigate/patient/v1', id, 16)}` as PatientToken,
    literal: (value) => `lt_${mac('phigate/literal/v1', value, 12)}`,
    person: (kind, value) => `pk_${mac('phigate/person/v1', JSON.stringify([kind, value]), 16)}`,
    keyId: `hk_${createHash('sha256').update('phigate/hmac-key-id/v1\u0000').update(secret).digest().subarray(0, 9).toString('base64url')}`,
  };
}

export function isPatientToken(value: string): value is PatientToken {
  return PATIENT_TOKEN.test(value);
}

/** Compares key ids without leaking, through timing, how much of a guessed id matched. */
export function sameKeyId(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
