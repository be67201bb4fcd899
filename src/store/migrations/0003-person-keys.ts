import { sql, type Kysely } from 'kysely';

/**
 * Person keys: keyed tokens (`<kind>:pk_…`) of what names the human behind an account — a verified e-mail, a
 * configured person claim — kept with each request (the requester's) and each approval (the approver's) as they
 * were when the person acted, so that separation of duties and quorums count humans, not accounts, and can be
 * checked later against what was known then.
 *
 * NULL means "recorded before phigate kept person keys": the access module then derives them from the e-mail the
 * row's person snapshot holds. An empty array means the person had none.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table access_requests add column requester_person_keys text[];
    alter table approvals add column approver_person_keys text[];
  `.execute(db);
}
