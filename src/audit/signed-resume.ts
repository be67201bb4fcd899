/**
 * Where a restarted phigate resumes the log: from the latest checkpoint signed with its own key — the last tree it
 * vouched for, checked by the signature — and the events after it, each checked before the first new one is appended
 * (appended-tree.ts). Whatever differs refuses the start: appending after a log that was rewritten while phigate was
 * down would make the rewrite part of what is signed next.
 */
import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { AuditLogDamaged, extendVerified, resumeTree } from './appended-tree.js';
import { publicKeyId, verifyCheckpoint } from './checkpoint.js';
import { EMPTY_FRONTIER, frontierRoot, type Frontier } from './merkle-frontier.js';

export interface ResumedLog {
  /** The tree of the latest checkpoint signed with this key (the empty tree when there is none). */
  readonly signed: Frontier;
  /** The tree of every stored event, each checked. */
  readonly appended: Frontier;
}

export async function resumeSignedLog(
  db: Db,
  options: { publicKey: KeyObject; origin: string },
): Promise<ResumedLog> {
  const keyId = publicKeyId(options.publicKey);
  const rows = await sql<{ size: number; body: string; signature: string; frontier: Buffer[] | null }>`
    select size, body, signature, frontier from audit_checkpoints
     where key_id = ${keyId} order by size desc limit 1`.execute(db);
  const row = rows.rows[0];
  if (row === undefined) {
    return {
      signed: EMPTY_FRONTIER,
      appended: await resumeTree(db, EMPTY_FRONTIER, { headEdgeRequired: false }),
    };
  }
  const checkpoint = verifyCheckpoint(row.body, row.signature, options.publicKey);
  if (
    checkpoint === undefined ||
    checkpoint.origin !== options.origin ||
    Number(checkpoint.size) !== Number(row.size)
  ) {
    throw new AuditLogDamaged(
      `the latest checkpoint under key ${keyId} (size ${row.size}) is not one this key signed for log "${options.origin}"`,
      undefined,
    );
  }
  const size = Number(checkpoint.size);
  // Checkpoints signed before migration 0005 carry no tree: rebuild it from the events, once, against the signature.
  const signed =
    row.frontier === null ? await extendVerified(db, EMPTY_FRONTIER, size) : { size, hashes: row.frontier };
  let root: Buffer;
  try {
    root = frontierRoot(signed);
  } catch {
    root = Buffer.alloc(0);
  }
  if (signed.hashes.length !== popcount(size) || !root.equals(checkpoint.rootHash)) {
    throw new AuditLogDamaged(
      `the events 1–${size} do not make the tree the checkpoint of size ${size} signed`,
      row.frontier === null ? 1 : undefined,
    );
  }
  return { signed, appended: await resumeTree(db, signed, { headEdgeRequired: row.frontier !== null }) };
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}
