/**
 * The audit log's signed checkpoints and signing keys as stored. Rows are mapped to `StoredCheckpoint` here, once;
 * what is signed, and when, is audit/checkpointer.ts.
 */
import { sql } from 'kysely';
import type { StoredCheckpoint } from '../audit/checkpoint.js';
import type { Db } from './database.js';

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

/** Records the public key checkpoints are signed with (kept once per key id). */
export async function insertSigningKey(db: Db, keyId: string, publicKeyPem: string): Promise<void> {
  await sql`insert into audit_signing_keys (key_id, public_key_pem) values (${keyId}, ${publicKeyPem})
              on conflict (key_id) do nothing`.execute(db);
}

/** Keeps a signed checkpoint with its tree's edge; one per size (another replica's at the same size is kept). */
export async function insertCheckpoint(
  db: Db,
  c: {
    readonly size: number;
    readonly rootHash: Buffer;
    readonly time: Date;
    readonly keyId: string;
    readonly body: string;
    readonly signature: string;
    readonly frontier: readonly Buffer[];
  },
): Promise<void> {
  await sql`
      insert into audit_checkpoints (size, root_hash, signed_at, key_id, body, signature, frontier)
      values (${c.size}, ${c.rootHash}, ${c.time}, ${c.keyId}, ${c.body},
              ${c.signature}, ${c.frontier}::bytea[])
      on conflict (size) do nothing`.execute(db);
}
