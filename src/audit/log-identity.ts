/**
 * A log's tokens are only useful if every replica makes them with the same key: a patient's events written under two
 * keys could never be found together. The store remembers the id of the key it was first written with, and a replica
 * holding another key refuses to start — before it writes a single token.
 */
import { PhigateError } from '../lib/errors.js';
import { insertLogIdentity, storedLogIdentity } from '../store/audit-log-identity-repository.js';
import type { Db } from '../store/database.js';
import { sameKeyId } from './pseudonymizer.js';

export async function claimLogIdentity(db: Db, hmacKeyId: string): Promise<void> {
  await insertLogIdentity(db, hmacKeyId);
  const stored = await storedLogIdentity(db);
  if (stored === undefined || !sameKeyId(stored, hmacKeyId)) {
    throw new PhigateError(
      'invalid',
      'audit.hmac-key-mismatch',
      `this audit log's tokens were made with HMAC key ${stored ?? '(none)'}, but the configured key is ${hmacKeyId}; ` +
        'give every replica the same audit.hmacKeyFile',
      { storedKeyId: stored, configuredKeyId: hmacKeyId },
    );
  }
}
