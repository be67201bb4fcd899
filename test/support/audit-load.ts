/**
 * A child process for the SIGKILL test: appends audit events as fast as it can through the group-commit writer,
 * signing checkpoints as it goes, and prints `ack <seq>` for each event only after the writer acknowledged it.
 * Usage: node --import tsx test/support/audit-load.ts <database url> <hmac key file> <signing key file>
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createAuditService } from '../../src/audit/audit-service.js';
import { loadSigningKey } from '../../src/audit/checkpoint.js';
import { parseHmacKey } from '../../src/audit/audit-keys.js';
import { systemClock } from '../../src/lib/clock.js';
import { openDatabase } from '../../src/store/database.js';
import { sampleEvent } from './audit.js';
import { silentLogger } from './helpers.js';

const [url, hmacFile, signingFile] = process.argv.slice(2) as [string, string, string];
const signingKey = loadSigningKey(readFileSync(signingFile, 'utf8'));
const publicKey = createPublicKey(signingKey);
const { db } = openDatabase(url);
const audit = createAuditService({
  db,
  clock: systemClock,
  logger: silentLogger,
  origin: 'test-audit',
  hmacKey: parseHmacKey(readFileSync(hmacFile, 'utf8'), hmacFile),
  signingKey,
  publicKey,
  publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  checkpointIntervalMs: 50,
  isAuditor: () => true,
});
await audit.start();
process.stdout.write('ready\n');

let i = 0;
async function worker(): Promise<void> {
  for (;;) {
    const n = i++;
    const [seq] = await audit.writer.append([sampleEvent(audit, n, [`MRN-${n % 10}`])]);
    process.stdout.write(`ack ${seq}\n`);
  }
}
await Promise.all(Array.from({ length: 32 }, () => worker()));
