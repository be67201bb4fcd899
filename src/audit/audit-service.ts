/**
 * The audit log as a service: what phigate writes through (the group-commit writer, the pseudonymizer), what signs
 * (the checkpointer), and what auditors read — events, checkpoints, proofs, verification, exports, the accounting of
 * disclosures. Every read is for auditors only, and is itself recorded: looking at the log leaves a trace in it.
 */
import type { KeyObject } from 'node:crypto';
import type pg from 'pg';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Db } from '../store/database.js';
import type { AuditAction } from './actions.js';
import { AuditLogDamaged } from './appended-tree.js';
import { asDamage, raiseDamageAlert } from './damage.js';
import { createAuditWriter, type AuditWriter } from './audit-writer.js';
import { resumeSignedLog, type ResumedLog } from './signed-resume.js';
import { publicKeyId } from './checkpoint.js';
import {
  createCheckpointer,
  findCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  type Checkpointer,
  type StoredCheckpoint,
} from './checkpointer.js';
import { UNATTRIBUTED_INDEX_TOKEN } from './disclosures.js';
import type { AuditEventInput, PatientToken, StoredAuditEvent } from './event.js';
import { queryEvents, type EventFilter } from './event-query.js';
import { startEventFollow, type EventFollow, type FollowFilter } from './event-follow.js';
import { exportJsonlLines } from './export-jsonl.js';
import { claimLogIdentity } from './log-identity.js';
import type { VerifyReport } from './log-verifier.js';
import { consistencyPath, inclusionPath } from './merkle.js';
import type { ConsistencyProofView, InclusionProofView, SignedCheckpointView } from './proof-view.js';
import { createPseudonymizer, type Pseudonymizer } from './pseudonymizer.js';
import { nodesNeeded, subtreeHashFrom } from './stored-subtrees.js';
import { fetchNodes } from './tree-store.js';
import { verifyStore } from './verify-store.js';
import { snapshotLines } from '../store/snapshot-stream.js';
import type { Witness } from './witness.js';
import type { ExportFormat } from './export-format.js';
import { exportLinesOf } from './export-format.js';

export interface AuditServiceOptions {
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
  /** Who may read the log (the current policy's auditors). */
  readonly isAuditor: (p: Principal) => boolean;
}

export interface DisclosureQuery {
  readonly patient: string;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

export interface AuditService {
  readonly pseudonymizer: Pseudonymizer;
  readonly writer: AuditWriter;
  readonly checkpointer: Checkpointer;
  readonly origin: string;
  readonly publicKeyPem: string;
  readonly keyId: string;
  /** Claims the log for this HMAC key, signs a first checkpoint and starts the interval. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Events matching the filter; `patient` (an identifier) is turned into its token here and goes no further. */
  events(p: Principal, filter: EventFilter & { patient?: string | undefined }): Promise<StoredAuditEvent[]>;
  /** A lasting query (`audit tail -f`): recorded when it starts and ends, not at each poll. */
  follow(p: Principal, filter: FollowFilter, backlog: number): Promise<EventFollow>;
  checkpoints(p: Principal, afterSize: number | undefined, limit: number): Promise<StoredCheckpoint[]>;
  signCheckpoint(p: Principal): Promise<StoredCheckpoint>;
  inclusionProof(p: Principal, seq: number, treeSize?: number): Promise<InclusionProofView>;
  consistencyProof(p: Principal, fromSize: number, toSize: number): Promise<ConsistencyProofView>;
  verify(p: Principal): Promise<VerifyReport>;
  exportLines(p: Principal, format: ExportFormat): Promise<AsyncGenerator<string>>;
  disclosures(
    p: Principal,
    query: DisclosureQuery,
  ): Promise<{ token: string; events: StoredAuditEvent[]; truncated: boolean }>;
}

const DISCLOSURE_LIMIT = 10_000;

const view = (c: StoredCheckpoint): SignedCheckpointView => ({
  body: c.body,
  keyId: c.keyId,
  signature: c.signature,
});

export function createAuditService(options: AuditServiceOptions): AuditService {
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
  const witnesses = options.witnesses ?? [];
  const checkpointer = createCheckpointer({
    db,
    origin,
    signingKey: options.signingKey,
    publicKeyPem: options.publicKeyPem,
    clock,
    logger,
    witnesses,
    intervalMs: options.checkpointIntervalMs,
    delayMs: options.checkpointDelayMs ?? 250,
    tree: writer,
    resumed: resume,
    onDamage: (damage) => raiseDamageAlert(db, damage, clock.now()),
  });

  let verifying = false;

  const record = (
    p: Principal,
    action: AuditAction,
    detail: Record<string, unknown>,
    extra: Partial<AuditEventInput> = {},
  ) =>
    writer.append([
      {
        action,
        outcome: 'success',
        who: { actor: p.id, issuer: p.issuer, subject: p.subject, name: p.displayName, groups: p.groups },
        how: { tokenId: p.tokenId },
        detail,
        ...extra,
      },
    ]);

  const requireAuditor = async (p: Principal, action: AuditAction): Promise<void> => {
    if (options.isAuditor(p)) return;
    await writer.append([
      {
        action,
        outcome: 'refused',
        reasonCode: 'audit.auditors-only',
        who: { actor: p.id, issuer: p.issuer, subject: p.subject, name: p.displayName, groups: p.groups },
        how: { tokenId: p.tokenId },
      },
    ]);
    throw new PhigateError('forbidden', 'audit.auditors-only', 'only auditors may read the audit log');
  };

  /** A signed checkpoint covering `size` events at least: the latest, or a new one when the log outgrew it. */
  const checkpointCovering = async (seq: number): Promise<StoredCheckpoint> => {
    const latest = await latestCheckpoint(db);
    if (latest !== undefined && latest.size >= seq) return latest;
    const signed = await asDamage(checkpointer.checkpoint());
    if (signed.size < seq)
      throw new PhigateError('not-found', 'audit.no-such-event', `there is no event ${seq}`);
    return signed;
  };

  const checkpointOfSize = async (size: number): Promise<StoredCheckpoint> => {
    const found = await findCheckpoint(db, size);
    if (found === undefined) {
      throw new PhigateError(
        'not-found',
        'audit.no-such-checkpoint',
        `no checkpoint was signed at size ${size}`,
        {
          size,
        },
      );
    }
    return found;
  };

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

    async events(p, query) {
      await requireAuditor(p, 'audit.query');
      const { patient, ...rest } = query;
      const filter: EventFilter =
        patient === undefined ? rest : { ...rest, patientToken: pseudonymizer.patient(patient) };
      const events = await queryEvents(db, filter);
      await record(
        p,
        'audit.query',
        {
          filter: {
            ...filter,
            patientToken: undefined,
            from: filter.from?.toISOString(),
            to: filter.to?.toISOString(),
          },
          returned: events.length,
        },
        filter.patientToken ? { what: { patients: [filter.patientToken as PatientToken] } } : {},
      );
      return events;
    },

    follow(p, filter, backlog) {
      return startEventFollow(
        {
          db,
          patientToken: (patient) => pseudonymizer.patient(patient),
          requireAuditor: (who) => requireAuditor(who, 'audit.query'),
          record: (who, detail, patients) =>
            record(
              who,
              'audit.query',
              detail,
              patients.length > 0 ? { what: { patients: [...patients] } } : {},
            ),
        },
        p,
        filter,
        backlog,
      );
    },

    async checkpoints(p, afterSize, limit) {
      await requireAuditor(p, 'audit.checkpoints');
      return listCheckpoints(db, { afterSize, limit });
    },

    async signCheckpoint(p) {
      await requireAuditor(p, 'audit.checkpoint');
      const signed = await asDamage(checkpointer.checkpoint());
      await record(p, 'audit.checkpoint', { size: signed.size });
      return signed;
    },

    async inclusionProof(p, seq, treeSize) {
      await requireAuditor(p, 'audit.proof');
      if (!Number.isSafeInteger(seq) || seq < 1) {
        throw new PhigateError('invalid', 'audit.seq-invalid', 'a sequence number is a positive integer');
      }
      const checkpoint =
        treeSize === undefined ? await checkpointCovering(seq) : await checkpointOfSize(treeSize);
      if (seq > checkpoint.size) {
        throw new PhigateError(
          'invalid',
          'audit.seq-beyond-tree',
          `event ${seq} is not in a tree of ${checkpoint.size}`,
        );
      }
      // The tree always covers a signed checkpoint: the checkpointer builds before it signs.
      const compute = (mth: Parameters<typeof inclusionPath>[2]) =>
        inclusionPath(seq - 1, checkpoint.size, mth);
      const nodes = await fetchNodes(db, [...nodesNeeded(compute), { level: 0, idx: seq - 1 }]);
      const [event] = await queryEvents(db, { cursor: seq - 1, limit: 1 });
      if (event === undefined || event.seq !== seq) {
        throw new PhigateError('not-found', 'audit.no-such-event', `there is no event ${seq}`);
      }
      return {
        seq,
        leafIndex: seq - 1,
        treeSize: checkpoint.size,
        event: event.canonical,
        leafHash: nodes.get(`0:${seq - 1}`)!.toString('base64'),
        auditPath: compute(subtreeHashFrom(nodes)).map((h) => h.toString('base64')),
        checkpoint: view(checkpoint),
      };
    },

    async consistencyProof(p, fromSize, toSize) {
      await requireAuditor(p, 'audit.proof');
      if (
        !Number.isSafeInteger(fromSize) ||
        !Number.isSafeInteger(toSize) ||
        fromSize < 0 ||
        fromSize > toSize
      ) {
        throw new PhigateError('invalid', 'audit.sizes-invalid', 'expected 0 ≤ from ≤ to');
      }
      const [from, to] = [await checkpointOfSize(fromSize), await checkpointOfSize(toSize)];
      if (fromSize === 0) return { fromSize, toSize, proof: [], from: view(from), to: view(to) };
      const compute = (mth: Parameters<typeof consistencyPath>[2]) => consistencyPath(fromSize, toSize, mth);
      const nodes = await fetchNodes(db, nodesNeeded(compute));
      return {
        fromSize,
        toSize,
        proof: compute(subtreeHashFrom(nodes)).map((h) => h.toString('base64')),
        from: view(from),
        to: view(to),
      };
    },

    async verify(p) {
      await requireAuditor(p, 'audit.verify');
      // Re-hashing the whole log is the heaviest thing an API call can ask for: one at a time per replica.
      if (verifying) {
        throw new PhigateError(
          'conflict',
          'audit.verify-running',
          'a verification is already running; try again when it ends',
        );
      }
      verifying = true;
      let report: VerifyReport;
      try {
        report = await verifyStore(db, { trustedKeys: [options.publicKey], origin, witnesses });
      } finally {
        verifying = false;
      }
      await record(p, 'audit.verify', { ok: report.ok, size: report.size, firstBadSeq: report.firstBadSeq });
      return report;
    },

    async exportLines(p, format) {
      await requireAuditor(p, 'audit.export');
      await record(p, 'audit.export', { format });
      // A checkpoint over the export's own record, signed before the snapshot is taken: the archive then carries no
      // event that no signature covers (it stops at its latest checkpoint). A damaged log is still exported — up to
      // the last checkpoint signed before the damage, which is what an investigation needs.
      await checkpointer.checkpoint().catch((err: unknown) => {
        if (!(err instanceof AuditLogDamaged)) throw err;
      });
      const header = {
        origin,
        exportedAt: clock.now().toISOString(),
        publicKeys: [{ keyId: publicKeyId(options.publicKey), pem: options.publicKeyPem }],
      };
      return snapshotLines(db, (tx) =>
        format === 'jsonl'
          ? exportJsonlLines(tx, header, options.signingKey)
          : exportLinesOf(tx, format, origin),
      );
    },

    async disclosures(p, query) {
      await requireAuditor(p, 'audit.disclosures');
      const token = pseudonymizer.patient(query.patient);
      const events: StoredAuditEvent[] = [];
      let cursor: number | undefined;
      for (;;) {
        const page = await queryEvents(db, {
          // The patient's own records, and those of statements no patient could be named for (every patient's).
          anyPatientToken: [token, UNATTRIBUTED_INDEX_TOKEN],
          from: query.from,
          to: query.to,
          cursor,
          limit: 1000,
        });
        events.push(...page);
        if (page.length < 1000 || events.length >= DISCLOSURE_LIMIT) break;
        cursor = page[page.length - 1]!.seq;
      }
      await record(p, 'audit.disclosures', { returned: events.length }, { what: { patients: [token] } });
      return {
        token,
        events: events.slice(0, DISCLOSURE_LIMIT),
        truncated: events.length > DISCLOSURE_LIMIT,
      };
    },
  };
}
