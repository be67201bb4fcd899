/**
 * The audit log's write runtime: the group-commit writer, the checkpointer that signs what it appended (on a
 * cadence, and on demand), the resume from the latest signed checkpoint, and the witnesses that countersign. What
 * auditors read is `auditor-reads.ts`; both meet in `audit-service.ts`.
 */
import type { KeyObject } from 'node:crypto';
import type pg from 'pg';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Db } from '../store/database.js';
import { asDamage, raiseDamageAlert } from './damage.js';
import { createAuditWriter, type AuditWriter } from './audit-writer.js';
import { resumeSignedLog, type ResumedLog } from './signed-resume.js';
import { publicKeyId } from './checkpoint.js';
import { createCheckpointer, type Checkpointer } from './checkpointer.js';
import { claimLogIdentity } from './log-identity.js';
import { createPseudonymizer, type Pseudonymizer } from './pseudonymizer.js';
import type { Witness } from './witness.js';

export interface AuditRuntimeOptions {
  readonly db: Db;
  /** The pool behind `db`, for prepared appends. */
  readonly pool?: Pick<pg.Pool, 'query'> | undefined;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly origin: string;
  readonly hmacKey: Buffer;
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  /** How often appends by others (control-plane transactions, replicas) are looked for and signed. */
  readonly checkpointIntervalMs: number;
  /** The longest a batch of the writer waits for a checkpoint that covers it (default 250 ms). */
  readonly checkpointDelayMs?: number;
  readonly witnesses?: readonly Witness[];
}

export interface AuditRuntime {
  readonly pseudonymizer: Pseudonymizer;
  readonly writer: AuditWriter;
  readonly checkpointer: Checkpointer;
  readonly origin: string;
  readonly publicKeyPem: string;
  readonly keyId: string;
  /** Claims the log for this HMAC key, signs a first checkpoint and starts the interval. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createAuditRuntime(options: AuditRuntimeOptions): AuditRuntime {
  const { db, clock, logger, origin } = options;
  const pseudonymizer = createPseudonymizer(options.hmacKey);
  // Resumed once per process, from the latest checkpoint this key signed; a failure (damage) is tried again.
  let resumed: Promise<ResumedLog> | undefined;
  const resume = (): Promise<ResumedLog> => {
    resumed ??= resumeSignedLog(db, { publicKey: options.publicKey, origin }).catch((err: unknown) => {
      resumed = undefined;
      throw err;
    });
    return resumed;
  };
  const writer = createAuditWriter({
    db,
    clock,
    pool: options.pool,
    resume: async () => (await resume()).appended,
  });
  const checkpointer = createCheckpointer({
    db,
    origin,
    signingKey: options.signingKey,
    publicKeyPem: options.publicKeyPem,
    clock,
    logger,
    witnesses: options.witnesses ?? [],
    intervalMs: options.checkpointIntervalMs,
    delayMs: options.checkpointDelayMs ?? 250,
    tree: writer,
    resumed: resume,
    onDamage: (damage) => raiseDamageAlert(db, damage, clock.now()),
  });

  return {
    pseudonymizer,
    writer,
    checkpointer,
    origin,
    publicKeyPem: options.publicKeyPem,
    keyId: publicKeyId(options.publicKey),

    async start() {
      await claimLogIdentity(db, pseudonymizer.keyId);
      // Fail closed: a log that differs from what was signed and appended is not appended to.
      await asDamage(resume());
      await asDamage(checkpointer.checkpoint());
      checkpointer.start();
    },

    async stop() {
      await writer.close();
      await checkpointer.stop();
    },
  };
}
