import { sql, type Kysely } from 'kysely';

/**
 * The tree the writer built as it appended (issue 15). `audit_head.frontier` is the right edge of the Merkle tree
 * over events 1..last_seq (the roots of its perfect subtrees, largest first), updated by the same statement that
 * numbers and inserts a batch: whoever appends extends it, so it always describes the log as appended, not as the
 * table holds it now. NULL on a log that existed before this migration: the first start rebuilds it from the rows
 * (the last time a row is trusted as stored).
 *
 * `audit_checkpoints.frontier` is the same right edge at a signed size: its fold is the signed root, so it is
 * checked by the signature, and a restart resumes from it without re-reading the events it covers.
 *
 * The append-only triggers fire ALWAYS: a superuser's session with `session_replication_role = replica` skips
 * ordinary triggers and leaves no trace; now it must ALTER the table first, which `phigate audit verify` reports
 * until the trigger is back as it was.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table audit_head add column frontier bytea[];
    update audit_head set frontier = '{}' where last_seq = 0;
    alter table audit_checkpoints add column frontier bytea[];
    alter table audit_events enable always trigger audit_events_no_update;
    alter table audit_events enable always trigger audit_events_no_truncate;
    alter table audit_tree_nodes enable always trigger audit_tree_nodes_no_update;
    alter table audit_tree_nodes enable always trigger audit_tree_nodes_no_truncate;
    alter table audit_checkpoints enable always trigger audit_checkpoints_no_update;
    alter table audit_checkpoints enable always trigger audit_checkpoints_no_truncate;
  `.execute(db);
}
