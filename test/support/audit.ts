/** An audit service on a test database, with keys made in memory for the test. */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createAuditService, type AuditService } from '../../src/audit/audit-service.js';
import type { AuditEventInput } from '../../src/audit/event.js';
import type { Witness } from '../../src/audit/witness.js';
import type { Clock } from '../../src/lib/clock.js';
import { systemClock } from '../../src/lib/clock.js';
import type { Db } from '../../src/store/database.js';
import { silentLogger } from './helpers.js';

/** One signing key and one HMAC key per test process: services on the same database agree, as replicas must. */
const pair = generateKeyPairSync('ed25519');
const hmacKey = randomBytes(32);

export function testAuditService(
  db: Db,
  options: { witnesses?: Witness[]; clock?: Clock; auditors?: readonly string[] } = {},
): AuditService & { readonly publicKey: KeyObject; readonly signingKey: KeyObject } {
  const auditors = new Set(options.auditors ?? ['https://idp.test#priya']);
  const service = createAuditService({
    db,
    clock: options.clock ?? systemClock,
    logger: silentLogger,
    origin: 'test-audit',
    hmacKey,
    signingKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    checkpointIntervalMs: 3_600_000,
    witnesses: options.witnesses ?? [],
    isAuditor: (p) => auditors.has(p.id),
  });
  return Object.assign(service, { publicKey: pair.publicKey, signingKey: pair.privateKey });
}

/** A plausible event: a statement by `actor` touching `patients` (tokens made by the service's key). */
export function sampleEvent(
  audit: AuditService,
  i: number,
  patients: readonly string[] = [],
): AuditEventInput {
  return {
    action: i % 5 === 0 ? 'grant.activate' : 'statement.execute',
    outcome: 'success',
    who: { actor: `https://idp.example#user${i % 7}`, name: `User ${i % 7}` },
    what: {
      resource: 'clinic-db',
      tables: ['public.encounters'],
      patients: patients.map((p) => audit.pseudonymizer.patient(p)),
      statement: { fingerprint: 'select * from encounters where patient_id = ?', literals: ['lt_x'] },
    },
    why: { purposeOfUse: 'TREAT', justification: `ticket ${i}` },
    how: { clientAddress: '127.0.0.1', sessionId: `s${i % 3}` },
  };
}
