/**
 * Signs checkpoints of the tree the writer built as it appended (appended-tree.ts) — never of a tree recomputed from
 * the table — after checking that the stored events since the last checkpoint it signed still fold into that tree;
 * on any difference it refuses (`audit.damaged`), raises an alert and signs nothing. A checkpoint is signed at most
 * `delayMs` after each batch the writer commits, and every `intervalMs` when others (control-plane transactions,
 * other replicas) appended; on demand too. It is kept in the store with its tree and then — after commit, never
 * inside a transaction — published to every witness. Several replicas may sign at once; the table keeps one per size,
 * and two that disagree at one size are damage.
 *
 * A witness that cannot be reached is logged and retried at the next checkpoint with the newest checkpoint (the
 * newest one vouches for every older one through a consistency proof).
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import {
  findCheckpoint,
  insertCheckpoint,
  insertSigningKey,
  latestCheckpoint,
} from '../store/audit-checkpoint-repository.js';
import type { Db } from '../store/database.js';
import { AuditLogDamaged, checkAgainst } from './appended-tree.js';
import { publicKeyId, signCheckpoint, type StoredCheckpoint } from './checkpoint.js';
import { frontierRoot, type Frontier } from './merkle-frontier.js';
import type { ResumedLog } from './signed-resume.js';
import { buildTree } from './tree-store.js';
import type { Witness } from './witness.js';

export type { StoredCheckpoint } from './checkpoint.js';
// The stored checkpoints' reads, where the log's readers have always found them.
export { findCheckpoint, latestCheckpoint, listCheckpoints } from '../store/audit-checkpoint-repository.js';

export interface Checkpointer {
  /** Signs a checkpoint of everything committed so far (or returns the latest, when nothing was added). */
  checkpoint(): Promise<StoredCheckpoint>;
  latest(): Promise<StoredCheckpoint | undefined>;
  /** Starts signing after each batch and at the interval; the first checkpoint is signed at once. */
  start(): void;
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  readonly db: Db;
  readonly origin: string;
  readonly signingKey: KeyObject;
  readonly publicKeyPem: string;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly witnesses?: readonly Witness[];
  /** The longest a committed batch waits for its checkpoint. */
  readonly delayMs: number;
  /** How often appends by others are looked for. */
  readonly intervalMs: number;
  /** The writer's tree (see AuditWriter). */
  readonly tree: {
    catchUp(): Promise<Frontier>;
    onCommitted(listener: (tree: Frontier) => void): () => void;
  };
  /** Where this process resumed: the tree of its latest own checkpoint (memoised by the caller). */
  readonly resumed: () => Promise<ResumedLog>;
  /** Raised once per distinct damage found (the server stores an alert event; logged in any case). */
  readonly onDamage?: (damage: AuditLogDamaged) => Promise<void>;
}

export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { db, origin, signingKey, clock, logger } = options;
  const keyId = publicKeyId(signingKey);
  const witnesses = options.witnesses ?? [];
  const published = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let keyRecorded = false;
  /** The tree of the last checkpoint this process signed or resumed from: what new events are checked from. */
  let signedTree: Frontier | undefined;
  const reported = new Set<string>();

  const recordKey = async (): Promise<void> => {
    if (keyRecorded) return;
    await insertSigningKey(db, keyId, options.publicKeyPem);
    keyRecorded = true;
  };

  const publish = async (latest: StoredCheckpoint): Promise<void> => {
    await Promise.all(
      witnesses.map(async (w) => {
        if ((published.get(w.name) ?? -1) >= latest.size) return;
        try {
          await w.publish({ body: latest.body, keyId: latest.keyId, signature: latest.signature });
          published.set(w.name, latest.size);
        } catch (err) {
          logger.warn(
            { err, witness: w.name, size: latest.size },
            'could not publish a checkpoint to a witness',
          );
        }
      }),
    );
  };

  const damaged = async (damage: AuditLogDamaged): Promise<never> => {
    if (!reported.has(damage.message)) {
      reported.add(damage.message);
      logger.error(
        { alert: 'audit.damaged', seq: damage.seq, reason: damage.message },
        'ALERT: the audit log as stored differs from what was appended; no checkpoint is signed over it',
      );
      await options
        .onDamage?.(damage)
        .catch((err: unknown) => logger.error({ err }, 'could not raise the alert'));
    }
    throw damage;
  };

  const store = async (tree: Frontier): Promise<StoredCheckpoint> => {
    const signed = signCheckpoint(
      { origin, size: BigInt(tree.size), rootHash: frontierRoot(tree), time: clock.now() },
      signingKey,
    );
    await insertCheckpoint(db, {
      size: tree.size,
      rootHash: signed.checkpoint.rootHash,
      time: signed.checkpoint.time,
      keyId,
      body: signed.body,
      signature: signed.signature,
      frontier: tree.hashes,
    });
    const kept = (await findCheckpoint(db, tree.size))!;
    if (!kept.rootHash.equals(signed.checkpoint.rootHash)) {
      await damaged(
        new AuditLogDamaged(`another checkpoint of size ${tree.size} signs a different tree`, undefined),
      );
    }
    return kept;
  };

  const sign = async (): Promise<StoredCheckpoint> => {
    await recordKey();
    signedTree ??= (await options.resumed()).signed;
    let appended: Frontier;
    try {
      appended = await options.tree.catchUp();
      // The stored events since the last checkpoint signed here must still be the ones appended.
      await checkAgainst(db, signedTree, appended);
    } catch (err) {
      if (err instanceof AuditLogDamaged) return damaged(err);
      throw err;
    }
    const latest = await latestCheckpoint(db);
    let result = latest;
    if (latest === undefined || latest.size < appended.size) {
      // Proofs read the stored tree; it is built from the events just checked.
      await buildTree(db);
      result = await store(appended);
    }
    signedTree = appended.size > signedTree.size ? appended : signedTree;
    await publish(result!);
    return result!;
  };

  const serialised = (): Promise<StoredCheckpoint> => {
    const next = running.then(sign, sign);
    running = next.catch(() => undefined);
    return next;
  };

  const tick = (): void => {
    soon = undefined;
    serialised().catch((err: unknown) => {
      if (!(err instanceof AuditLogDamaged)) logger.error({ err }, 'could not sign an audit checkpoint');
    });
  };

  return {
    checkpoint: serialised,
    latest: () => latestCheckpoint(db),
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
      // After each batch, within delayMs: one checkpoint for all the batches committed meanwhile.
      unsubscribe = options.tree.onCommitted(() => {
        soon ??= setTimeout(tick, options.delayMs);
      });
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      unsubscribe?.();
      if (soon !== undefined) {
        clearTimeout(soon);
        soon = undefined;
        // What was appended is signed before stopping, so a clean stop leaves no unsigned tail.
        await serialised().catch(() => undefined);
      }
      await running;
    },
  };
}
