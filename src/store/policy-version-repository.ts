/** Every policy text requests were decided under, by hash, so an old decision can be re-examined later. */
import type { Selectable } from 'kysely';
import type { Db } from './database.js';
import type { PolicyVersionsTable } from './schema.js';

export type PolicyVersionRow = Selectable<PolicyVersionsTable>;

export async function savePolicyVersion(
  db: Db,
  v: { hash: string; sourceName: string; source: string },
): Promise<void> {
  await db
    .insertInto('policy_versions')
    .values({ hash: v.hash, source_name: v.sourceName, source: v.source })
    .onConflict((oc) => oc.column('hash').doNothing())
    .execute();
}

export async function findPolicyVersion(db: Db, hash: string): Promise<PolicyVersionRow | undefined> {
  return db.selectFrom('policy_versions').selectAll().where('hash', '=', hash).executeTakeFirst();
}
