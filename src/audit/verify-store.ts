/**
 * `phigate audit verify` against the store: every event, every checkpoint in the store, every checkpoint the
 * witnesses kept; the tree the writers built (`audit_head.frontier`) against the events as stored; and the store's
 * own defences (store-integrity.ts). The store's own checkpoints prove little against someone who rewrote the store;
 * the witnesses' copies and the auditor's own public key are what make a rewrite visible.
 *
 * Events are read by sequence number and, where a checkpoint's range turned out inconsistent, also in storage order:
 * a row rewritten or renumbered after it was written is stored after rows written later, which names it.
 */
import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { readHead, sameFrontier } from './appended-tree.js';
import { listCheckpoints } from './checkpointer.js';
import {
  LogVerifier,
  withProblems,
  type CheckpointClaim,
  type VerifyProblem,
  type VerifyReport,
} from './log-verifier.js';
import { createLeafHasher, verifyPages } from './leaf-hasher.js';
import { readEvents } from './store-reader.js';
import { storeDefenceProblems } from './store-integrity.js';
import type { Witness } from './witness.js';

export interface VerifyStoreOptions {
  readonly trustedKeys: readonly KeyObject[];
  readonly origin?: string | undefined;
  readonly witnesses?: readonly Witness[];
}

async function witnessClaims(
  witnesses: readonly Witness[],
): Promise<{ claims: CheckpointClaim[]; problems: VerifyProblem[] }> {
  const claims: CheckpointClaim[] = [];
  const problems: VerifyProblem[] = [];
  for (const w of witnesses) {
    try {
      const { entries, problems: unreadable } = await w.read();
      for (const p of unreadable) problems.push({ code: 'witness.unreadable', message: `${w.name}: ${p}` });
      for (const e of entries) claims.push({ source: w.name, body: e.body, signature: e.signature });
    } catch (err) {
      problems.push({
        code: 'witness.unavailable',
        message: `${w.name}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  return { claims, problems };
}

export async function verifyStore(db: Db, options: VerifyStoreOptions): Promise<VerifyReport> {
  const problems: VerifyProblem[] = await storeDefenceProblems(db);
  // The head first: every event it counts had committed with it, so the pass below reads at least that many.
  const head = await readHead(db);
  const claims: CheckpointClaim[] = (await listCheckpoints(db)).map((c) => ({
    source: 'store',
    body: c.body,
    signature: c.signature,
  }));
  const witnessed = await witnessClaims(options.witnesses ?? []);
  claims.push(...witnessed.claims);
  problems.push(...witnessed.problems);
  const verifier = new LogVerifier({
    claims,
    trustedKeys: options.trustedKeys,
    origin: options.origin,
    keepEdgeAt: head.lastSeq,
  });
  const hasher = createLeafHasher();
  try {
    await verifyPages(readEvents(db), (seq, leaf, stored) => verifier.pushLeaf(seq, leaf, stored), hasher);
  } finally {
    await hasher.close();
  }
  const report = verifier.finish();
  const edge = verifier.edgeAt();
  if (edge === undefined) {
    problems.push({
      code: 'head.mismatch',
      seq: report.size + 1,
      message: `the log's head counts ${head.lastSeq} events; the store holds ${report.size}`,
    });
  } else if (head.frontier === undefined) {
    // Only a log from before migration 0005 that no phigate has started on since lacks it.
    problems.push({
      code: 'head.mismatch',
      message: "the log's head carries no tree of its writers (audit_head.frontier is NULL): it was removed",
    });
  } else if (!sameFrontier(edge, head.frontier)) {
    problems.push({
      code: 'head.mismatch',
      seq: report.signedSize + 1,
      lastSeq: head.lastSeq,
      message:
        `the events ${report.signedSize + 1}–${head.lastSeq} as stored do not make the tree their writers built ` +
        `as they appended them (audit_head.frontier): one of them was changed, moved or removed`,
    });
  }
  const withAll = withProblems(report, problems);
  const range = withAll.inconsistentRange;
  if (range === undefined) return withAll;
  return withProblems(withAll, await movedEvents(db, range));
}

/**
 * Events of an inconsistent range stored after an event with a higher number: appends write rows in sequence order,
 * an UPDATE writes a new row version where there is room — after the rows written since. Only consulted for a range
 * already found inconsistent, since vacuumed space can legitimately be refilled out of order.
 */
const MAX_MOVED = 10;

async function movedEvents(db: Db, range: { from: number; to: number }): Promise<VerifyProblem[]> {
  const rows = await sql<{ seq: number }>`
    select seq from audit_events where seq between ${range.from} and ${range.to} order by ctid`.execute(db);
  let highest = 0;
  const moved: number[] = [];
  for (const r of rows.rows) {
    const seq = Number(r.seq);
    if (seq < highest) moved.push(seq);
    highest = Math.max(highest, seq);
  }
  // Each is named (a few at most): a row rewritten and put back is stored out of place too, and is worth knowing.
  return moved.slice(0, MAX_MOVED).map((seq) => ({
    code: 'event.moved',
    seq,
    message:
      `event ${seq} is stored after events written later: its row was rewritten or renumbered after it was ` +
      `appended (${moved.length} such in ${range.from}–${range.to})`,
  }));
}
