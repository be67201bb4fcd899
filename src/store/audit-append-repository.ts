/**
 * The audit log's append statements: the one statement that moves the head and inserts encoded events, and the WAL
 * flush that makes deferred-flush appends durable. What an event's columns hold (its encoding) is audit/audit-log.ts.
 */
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Frontier } from '../audit/merkle-frontier.js';
import type { Database } from './schema.js';

export interface EncodedEvent {
  readonly recordedAt: Date;
  readonly action: string;
  readonly outcome: string;
  readonly reasonCode: string | null;
  readonly actorId: string;
  readonly resource: string | null;
  readonly requestId: string | null;
  readonly canonical: string;
  readonly leafHash: Buffer;
  /** Comma-joined: tokens are base64url, so no token contains a comma. */
  readonly patients: string;
}

/**
 * One statement increments the head, extends its tree's edge and inserts the rows: `$1` events, `$2` the commit
 * mode, then one array per column. Fixed text, so that it can be a named prepared statement (planned once per
 * connection). The head is moved one of two ways:
 * - the writer's: `$13` the edge after these rows, `$14` the size they follow. When the log is no longer `$14` long
 *   (another appender came first), nothing is inserted and no row is returned: the caller catches up and retries.
 * - a transaction's: the edge is extended in SQL (`audit_extend_frontier`, migration 0005) from whatever it is.
 */
const HEAD_AFTER_SIZE = `update audit_head set last_seq = last_seq + $1, frontier = $13::bytea[]
                 where last_seq = $14 returning last_seq`;
const HEAD_EXTENDED_IN_SQL = `update audit_head set last_seq = last_seq + $1,
                 frontier = audit_extend_frontier(frontier, last_seq, $11::bytea[]) returning last_seq`;

const insertSql = (head: string): string => `
  with commit_mode as (select set_config('synchronous_commit', $2, true)),
       head as (${head})
  insert into audit_events
    (seq, recorded_at, action, outcome, reason_code, actor_id, resource, request_id, canonical, leaf_hash,
     patient_tokens)
  select head.last_seq - $1 + r.n, r.recorded_at, r.action, r.outcome, r.reason_code, r.actor_id, r.resource,
         r.request_id, r.canonical, r.leaf_hash,
         case when r.patients = '' then '{}'::text[] else string_to_array(r.patients, ',') end
    from commit_mode, head,
         unnest($3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[],
                string_to_array($10::text, E'\\x1e'), $11::bytea[], $12::text[])
           with ordinality as r(recorded_at, action, outcome, reason_code, actor_id, resource, request_id,
                                canonical, leaf_hash, patients, n)
  order by r.n
  returning seq`;
const INSERT_AFTER_SIZE = insertSql(HEAD_AFTER_SIZE);
const INSERT_EXTENDED_IN_SQL = insertSql(HEAD_EXTENDED_IN_SQL);

/** What can run the insert: a Kysely database or transaction, or a pg pool (which prepares it once). */
export type AppendTarget = Kysely<Database> | Pick<pg.Pool, 'query'>;

/**
 * Appends events already encoded (the group-commit writer encodes at append time, off the commit's path). Given the
 * database rather than a transaction, the one statement is its own transaction: one round trip, not three.
 *
 * `deferFlush`: the statement's transaction commits without waiting for the WAL to reach disk, which releases the
 * head row's lock a disk flush earlier. Such events are NOT durable yet: the caller must `flushWal` before telling
 * anyone they were recorded (the group-commit writer does).
 *
 * Returns no sequence numbers when the log had grown past `after.size`: nothing was inserted.
 */
export async function insertEncoded(
  target: AppendTarget,
  rows: readonly EncodedEvent[],
  options: {
    deferFlush?: boolean;
    /**
     * The log's size these rows follow and the tree's edge with them (undefined: the head's edge is unknown) — or
     * the head's edge extended in SQL from whatever it is (one appender among others, in a transaction).
     */
    after: { size: number; frontier: Frontier | undefined } | 'extend-in-sql';
  },
): Promise<number[]> {
  if (rows.length === 0) return [];
  const params: unknown[] = [
    rows.length,
    options.deferFlush ? 'off' : 'on',
    rows.map((r) => r.recordedAt),
    rows.map((r) => r.action),
    rows.map((r) => r.outcome),
    rows.map((r) => r.reasonCode),
    rows.map((r) => r.actorId),
    rows.map((r) => r.resource),
    rows.map((r) => r.requestId),
    // One text joined by U+001E, which canonical JSON always escapes: splitting it is far cheaper, on both sides,
    // than quoting hundreds of bytes of JSON into an array literal and parsing it back.
    rows.map((r) => r.canonical).join('\u001e'),
    rows.map((r) => r.leafHash),
    rows.map((r) => r.patients),
  ];
  const after = options.after;
  if (after !== 'extend-in-sql')
    params.push(after.frontier === undefined ? null : after.frontier.hashes, after.size);
  const text = after === 'extend-in-sql' ? INSERT_EXTENDED_IN_SQL : INSERT_AFTER_SIZE;
  const result =
    'executeQuery' in target
      ? await target.executeQuery<{ seq: number }>(CompiledQuery.raw(text, params))
      : await target.query<{ seq: number }>({
          name: after === 'extend-in-sql' ? 'phigate-audit-append-extend' : 'phigate-audit-append',
          text,
          values: params,
        });
  return result.rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
}

/**
 * Waits until everything committed so far is on disk: a transaction that writes WAL (a transactional logical
 * message, which any role may emit and nothing consumes) commits synchronously, and flushing its commit record
 * flushes every record before it — including events committed with a deferred flush. Concurrent flushes share one
 * disk write, as PostgreSQL groups commits.
 */
export async function flushWal(db: Kysely<Database>): Promise<void> {
  await sql`select pg_logical_emit_message(true, 'phigate-audit-flush', '')`.execute(db);
}
