/**
 * The audit log of a starting phigate: its keys (read, or generated on first start, before the store is touched) and
 * its service (claims the log for this HMAC key, signs a first checkpoint, starts the interval).
 */
import { loadAuditKeys, type AuditKeys } from '../audit/audit-keys.js';
import { createAuditService, type AuditService } from '../audit/audit-service.js';
import { fileWitness, httpWitness } from '../audit/witness.js';
import { durationMs } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { StartContext } from './start-context.js';

/** Keys first: a key that cannot be read stops phigate before it touches the store. */
export function loadKeys(config: Config, logger: Pick<Logger, 'warn'>): AuditKeys {
  const keys = loadAuditKeys({
    hmacKeyFile: config.audit.hmacKeyFile,
    signingKeyFile: config.audit.signingKeyFile,
    hmacKey: config.audit.hmacKey,
    signingKey: config.audit.signingKey,
    dataDir: config.dataDir,
  });
  for (const file of keys.generated)
    logger.warn({ file }, 'generated an audit key; keep a copy and its public key');
  return keys;
}

/** The audit service, started; stopped (in reverse order) with the others. */
export async function startAudit(ctx: StartContext): Promise<AuditService> {
  const { config, store, keys, policies } = ctx;
  const audit = createAuditService({
    db: store.db,
    pool: store.pool,
    clock: systemClock,
    logger: ctx.logger,
    origin: config.audit.origin,
    hmacKey: keys.hmacKey,
    signingKey: keys.signingKey,
    publicKey: keys.publicKey,
    publicKeyPem: keys.publicKeyPem,
    checkpointIntervalMs: durationMs(config.audit.checkpointInterval),
    checkpointDelayMs: durationMs(config.audit.checkpointDelay),
    witnesses: [
      ...config.audit.witness.files.map(fileWitness),
      ...config.audit.witness.urls.map((u) => httpWitness(u)),
    ],
    isAuditor: (p) => policies.current().isAuditor(p),
  });
  await audit.start();
  ctx.cleanups.push(() => audit.stop());
  return audit;
}
