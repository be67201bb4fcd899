import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import type pg from 'pg';
import { canonicalJson } from '../lib/canonical-json.js';
import type { Database } from '../store/schema.js';
import { UNATTRIBUTED_INDEX_TOKEN } from './disclosures.js';
import { auditRecord, type AuditEventInput } from './event.js';
import { leafHash } from './merkle.js';
import { FrontierBuilder, type Frontier } from './merkle-frontier.js';

/**
 * Appends events inside the caller's transaction, so that the change and its record commit together or not at all
 * (no audit, no change). Sequence numbers come from a counter row: gapless, and in commit order, because the row
 * stays locked until the appending transaction ends — a reader therefore always sees a gapless prefix of the log,
 * which is what the Merkle tree is built over. One statement does the increment and the insert so that the lock is
 * taken as late, and held as briefly, as possible: call this last in a transaction.
 *
 * The leaf hash is computed here from the canonical bytes, which are stored verbatim: what is verified later is
 * exactly what was hashed now.
 */
export async function appendAudit(
  tx: Transaction<Database>,
  events: readonly AuditEventInput[],
  recordedAt: Date,
): Promise<number[]> {
  const rows = events.map((e) => encodeEvent(e, recordedAt));
  if (rows.length === 0) return [];
  // The head's edge is extended by the same statement, in SQL: the head's lock is taken as late as before.
  return insertEncoded(tx, rows, { after: 'extend-in-sql' });
}

/** The tree's right edge after `rows` (see appended-tree.ts). */
export function extendFrontier(from: Frontier, rows: readonly EncodedEvent[]): Frontier {
  const builder = new FrontierBuilder(from);
  for (const r of rows) builder.push(r.leafHash);
  return builder.snapshot();
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeEvent(event: AuditEventInput, recordedAt: Date): EncodedEvent {
  const record = auditRecord(event, recordedAt);
  // Attacker-supplied text must still be recorded, one way only: lone surrogates (no UTF-8 form, so no canonical
  // bytes) become U+FFFD rather than failing the append — and with it the refusal being audited.
  const canonical = canonicalJson(record, { repairSurrogates: true });
  const requestId = record.what?.requestId;
  return {
    recordedAt,
    action: columnText(record.action),
    outcome: record.outcome,
    reasonCode: record.reasonCode === undefined ? null : columnText(record.reasonCode),
    actorId: columnText(record.who.actor),
    resource: record.what?.resource === undefined ? null : columnText(record.what.resource),
    // Only a real id is indexed; anything else (an attacker's "id" in a refused call) stays in the record as data.
    requestId: requestId !== undefined && UUID.test(requestId) ? requestId : null,
    canonical,
    leafHash: leafHash(Buffer.from(canonical, 'utf8')),
    patients: [
      ...(record.what?.patients ?? []),
      ...(record.what?.unattributed === true ? [UNATTRIBUTED_INDEX_TOKEN] : []),
    ].join(','),
  };
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

/**
 * The indexed columns repeat values that attackers can supply (an actor id, a resource name). PostgreSQL text holds
 * neither U+0000 nor lone surrogates, and an append must not fail on them — the refusal being recorded would be lost
 * with it — so they become U+FFFD there. The canonical record keeps them exactly (JSON escapes them).
 */
function columnText(value: string): string {
  return value.toWellFormed().replaceAll('\u0000', '\ufffd');
}
