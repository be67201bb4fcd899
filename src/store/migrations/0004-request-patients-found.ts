import { sql, type Kysely } from 'kysely';

/**
 * How many of the patients a request names were found in its resource's patient table when it was made, for the
 * approver to see. NULL: not looked up — the request names none, the resource declares no patient table, phigate has
 * no provisioning account for it, or the request was made before phigate looked.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table access_requests
      add column patients_found integer check (patients_found >= 0);
  `.execute(db);
}
