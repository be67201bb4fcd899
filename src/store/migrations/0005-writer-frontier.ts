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
 * `audit_extend_frontier` extends an edge by leaf hashes (RFC 6962: node = SHA-256(0x01 ‖ left ‖ right)), so that a
 * control-plane transaction extends the head's edge in its one append statement, taking the head's lock as late as
 * before. The group-commit writer computes the edge itself and states the size it follows instead.
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

    create function audit_extend_frontier(frontier bytea[], size bigint, leaves bytea[]) returns bytea[]
      language plpgsql immutable as $$
    declare
      stack bytea[] := frontier;
      n bigint := size;
      idx bigint;
      h bytea;
      leaf bytea;
    begin
      if stack is null then
        return null; -- a log from before this migration: no edge until a writer has rebuilt it
      end if;
      foreach leaf in array leaves loop
        h := leaf;
        idx := n;
        -- Every trailing 1-bit of the size is a perfect subtree the new leaf completes: merge them.
        while idx % 2 = 1 loop
          if coalesce(array_length(stack, 1), 0) = 0 then
            raise exception 'audit_head.frontier does not fit its size %', size;
          end if;
          h := sha256('\\x01'::bytea || stack[array_length(stack, 1)] || h);
          stack := stack[1:array_length(stack, 1) - 1];
          idx := (idx - 1) / 2;
        end loop;
        stack := array_append(stack, h);
        n := n + 1;
      end loop;
      return stack;
    end $$;
    alter table audit_events enable always trigger audit_events_no_update;
    alter table audit_events enable always trigger audit_events_no_truncate;
    alter table audit_tree_nodes enable always trigger audit_tree_nodes_no_update;
    alter table audit_tree_nodes enable always trigger audit_tree_nodes_no_truncate;
    alter table audit_checkpoints enable always trigger audit_checkpoints_no_update;
    alter table audit_checkpoints enable always trigger audit_checkpoints_no_truncate;
  `.execute(db);
}
