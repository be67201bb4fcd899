/**
 * phigate's own objects in a protected database, owned by the provisioning account and closed to everyone else:
 * the patient set of each patient-scoped grant (read by the views, keyed by the grant's role), and the key of the
 * `pseudonym` mask. The key is made here, once, at random, and never leaves the database: views read it with their
 * owner's rights, a grant's role cannot read it, and it appears in no view definition.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from './sql-names.js';
import { GRANT_PATIENTS, META_SCHEMA, PSEUDONYM_KEY } from './view-plan.js';

const HMAC_BLOCK = 64;

/** HMAC's padded keys for SHA-256 (RFC 2104): key ⊕ ipad and key ⊕ opad. */
export function hmacPads(key: Buffer): { inner: Buffer; outer: Buffer } {
  if (key.length > HMAC_BLOCK)
    throw new RangeError('HMAC keys longer than the block are hashed first; use 32 bytes');
  const inner = Buffer.alloc(HMAC_BLOCK, 0x36);
  const outer = Buffer.alloc(HMAC_BLOCK, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i] = inner[i]! ^ key[i]!;
    outer[i] = outer[i]! ^ key[i]!;
  }
  return { inner, outer };
}

/** What the `pseudonym` mask gives for `value` under `key` (for tests and for a DBA checking a token). */
export function pseudonymOf(key: Buffer, value: string): string {
  return `ps_${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 24)}`;
}

/** Creates phigate's schema and tables if missing (in the caller's transaction, under the provisioning lock). */
export async function ensureMetaSchema(client: pg.PoolClient): Promise<void> {
  const found = await client.query<{ ok: boolean }>(
    `select to_regclass('${PSEUDONYM_KEY.replaceAll("'", "''")}') is not null as ok`,
  );
  if (found.rows[0]?.ok === true) return;
  const schema = quoteIdent(META_SCHEMA);
  await client.query(`create schema if not exists ${schema}`);
  await client.query(`revoke all on schema ${schema} from public`);
  await client.query(
    `comment on schema ${schema} is 'phigate: grants'' patient sets and the pseudonym key (managed by phigate)'`,
  );
  await client.query(
    `create table if not exists ${GRANT_PATIENTS} (role_name name not null, patient_id text not null, ` +
      'primary key (role_name, patient_id))',
  );
  await client.query(
    `create table if not exists ${PSEUDONYM_KEY} (singleton boolean primary key default true check (singleton), ` +
      'inner_pad bytea not null, outer_pad bytea not null)',
  );
  const { inner, outer } = hmacPads(randomBytes(32));
  await client.query(
    `insert into ${PSEUDONYM_KEY} (inner_pad, outer_pad) values ($1, $2) on conflict do nothing`,
    [inner, outer],
  );
}
