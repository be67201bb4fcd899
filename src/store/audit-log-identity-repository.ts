/**
 * The audit log's identity row: the id of the HMAC key its patient tokens were first made with (audit/log-identity.ts
 * decides what a mismatch means).
 */
import { sql } from 'kysely';
import type { Db } from './database.js';

/** Records `hmacKeyId` as the log's key, unless a key was recorded before. */
export async function insertLogIdentity(db: Db, hmacKeyId: string): Promise<void> {
  await sql`insert into audit_log_identity (hmac_key_id) values (${hmacKeyId}) on conflict (id) do nothing`.execute(
    db,
  );
}

/** The id of the key the log was first written with; undefined when none was recorded. */
export async function storedLogIdentity(db: Db): Promise<string | undefined> {
  const rows = await sql<{ hmac_key_id: string }>`select hmac_key_id from audit_log_identity`.execute(db);
  return rows.rows[0]?.hmac_key_id;
}
