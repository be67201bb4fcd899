/**
 * Idempotency records: the first answer to a (principal, key), kept with a fingerprint of the call it answered.
 * The key is locked for the transaction first, so two identical calls racing see one answer, not two changes.
 */
import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** The first answer to a key: the fingerprint of the call it answered, and what it answered. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly statusCode: number;
  readonly body: unknown;
}

const IDEMPOTENCY_LOCK = 0x70_68_02;

export async function lockIdempotencyKey(
  tx: Transaction<Database>,
  principalId: string,
  key: string,
): Promise<void> {
  const k = JSON.stringify([principalId, key]);
  await sql`select pg_advisory_xact_lock(${IDEMPOTENCY_LOCK}, hashtext(${k}))`.execute(tx);
}

export async function findIdempotencyRecord(
  tx: Transaction<Database>,
  principalId: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const row = await tx
    .selectFrom('idempotency_keys')
    .select(['fingerprint', 'status_code', 'body'])
    .where('principal_id', '=', principalId)
    .where('key', '=', key)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { fingerprint: row.fingerprint, statusCode: row.status_code, body: row.body };
}

export async function saveIdempotencyRecord(
  tx: Transaction<Database>,
  row: { principalId: string; key: string; fingerprint: string; statusCode: number; body: unknown },
): Promise<void> {
  await tx
    .insertInto('idempotency_keys')
    .values({
      principal_id: row.principalId,
      key: row.key,
      fingerprint: row.fingerprint,
      status_code: row.statusCode,
      body: JSON.stringify(row.body),
    })
    .onConflict((oc) => oc.columns(['principal_id', 'key']).doNothing())
    .execute();
}
