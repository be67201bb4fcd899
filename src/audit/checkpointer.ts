/**
 * Signs checkpoints: brings the stored tree up to date, signs (size, root, time) when the log has grown, keeps the
 * checkpoint in the store and then — after commit, never inside a transaction — publishes it to every witness. Runs
 * at an interval and on demand. Several replicas may sign at once; the checkpoint table keeps one per size.
 *
 * A witness that cannot be reached is logged and retried at the next checkpoint with the newest checkpoint (the
 * newest one vouches for every older one through a consistency proof).
 */
import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Db } from '../store/database.js';
import { publicKeyId, signCheckpoint } from './checkpoint.js';
import { frontierRoot } from './merkle-frontier.js';
import { buildTree } from './tree-store.js';
import type { Witness } from './witness.js';

export interface StoredCheckpoint {
  readonly size: number;
  readonly rootHash: Buffer;
  readonly signedAt: Date;
  readonly keyId: string;
  readonly body: string;
  readonly signature: string;
}

export interface Checkpointer {
  /** Signs a checkpoint of everything committed so far (or returns the latest, when nothing was added). */
  checkpoint(): Promise<StoredCheckpoint>;
  latest(): Promise<StoredCheckpoint | undefined>;
  /** Starts the interval; the first checkpoint is signed at once. */
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
  readonly intervalMs: number;
}

interface CheckpointRow {
  size: number;
  root_hash: Buffer;
  signed_at: Date;
  key_id: string;
  body: string;
  signature: string;
}

const fromRow = (r: CheckpointRow): StoredCheckpoint => ({
  size: Number(r.size),
  rootHash: r.root_hash,
  signedAt: r.signed_at,
  keyId: r.key_id,
  body: r.body,
  signature: r.signature,
});

export async function latestCheckpoint(db: Db): Promise<StoredCheckpoint | undefined> {
  const rows = await sql<CheckpointRow>`select * from audit_checkpoints order by size desc limit 1`.execute(
    db,
  );
  return rows.rows[0] ? fromRow(rows.rows[0]) : undefined;
}

export async function listCheckpoints(
  db: Db,
  options: { afterSize?: number | undefined; limit?: number | undefined } = {},
): Promise<StoredCheckpoint[]> {
  const rows = await sql<CheckpointRow>`
    select * from audit_checkpoints where size > ${options.afterSize ?? -1}
     order by size limit ${options.limit ?? 1_000_000}`.execute(db);
  return rows.rows.map(fromRow);
}

export async function findCheckpoint(db: Db, size: number): Promise<StoredCheckpoint | undefined> {
  const rows = await sql<CheckpointRow>`select * from audit_checkpoints where size = ${size}`.execute(db);
  return rows.rows[0] ? fromRow(rows.rows[0]) : undefined;
}

export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { db, origin, signingKey, clock, logger } = options;
  const keyId = publicKeyId(signingKey);
  const witnesses = options.witnesses ?? [];
  const published = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let keyRecorded = false;

  const recordKey = async (): Promise<void> => {
    if (keyRecorded) return;
    await sql`insert into audit_signing_keys (key_id, public_key_pem) values (${keyId}, ${options.publicKeyPem})
              on conflict (key_id) do nothing`.execute(db);
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

  const sign = async (): Promise<StoredCheckpoint> => {
    await recordKey();
    const frontier = await buildTree(db);
    const latest = await latestCheckpoint(db);
    let result = latest;
    if (latest === undefined || latest.size < frontier.size) {
      const signed = signCheckpoint(
        { origin, size: BigInt(frontier.size), rootHash: frontierRoot(frontier), time: clock.now() },
        signingKey,
      );
      await sql`
        insert into audit_checkpoints (size, root_hash, signed_at, key_id, body, signature)
        values (${frontier.size}, ${signed.checkpoint.rootHash}, ${signed.checkpoint.time}, ${keyId}, ${signed.body},
                ${signed.signature})
        on conflict (size) do nothing`.execute(db);
      result = await findCheckpoint(db, frontier.size);
    }
    await publish(result!);
    return result!;
  };

  const serialised = (): Promise<StoredCheckpoint> => {
    const next = running.then(sign, sign);
    running = next.catch(() => undefined);
    return next;
  };

  const tick = (): void => {
    serialised().catch((err: unknown) => logger.error({ err }, 'could not sign an audit checkpoint'));
  };

  return {
    checkpoint: serialised,
    latest: () => latestCheckpoint(db),
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
