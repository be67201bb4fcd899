/**
 * The tree as it was appended, and the checks that hold the table to it (issue 15).
 *
 * Whoever appends extends the right edge of the Merkle tree (`audit_head.frontier`) in the statement that numbers and
 * inserts the batch, and the group-commit writer keeps the same edge in memory. What is signed is that edge — the
 * tree the writer built — never a tree recomputed from what the table holds when signing: a row rewritten after it
 * was appended (by someone with the database superuser's powers, triggers disabled) no longer matches the edge, and
 * the checkpointer refuses to sign instead of vouching for the rewrite.
 *
 * Rows are checked by reading them back in seq order: every seq present once, every stored leaf equal to the hash
 * of the stored bytes, and the edge they fold into equal to the one expected.
 */
import { readHead, selectStoredLeaves, writeMissingHeadEdge } from '../store/audit-head-repository.js';
import type { Db } from '../store/database.js';
import { FrontierBuilder, type Frontier } from './merkle-frontier.js';
import { leafHash } from './merkle.js';

export { readHead, type StoredHead } from '../store/audit-head-repository.js';

/** The stored log differs from what was appended: refuse to sign it or to append after it. */
export class AuditLogDamaged extends Error {
  override readonly name = 'AuditLogDamaged';
  constructor(
    message: string,
    /** The first sequence number found wrong, when one is. */
    readonly seq: number | undefined,
  ) {
    super(message);
  }
}

export function sameFrontier(a: Frontier, b: Frontier): boolean {
  return (
    a.size === b.size &&
    a.hashes.length === b.hashes.length &&
    a.hashes.every((h, i) => h.equals(b.hashes[i]!))
  );
}

const PAGE = 5_000;

/**
 * Extends `from` with the stored events (from.size, upTo], checking each on the way: present, in its place, its
 * stored leaf the hash of its stored bytes. Throws AuditLogDamaged naming the first event that is not.
 */
export async function extendVerified(db: Db, from: Frontier, upTo: number): Promise<Frontier> {
  const builder = new FrontierBuilder(from);
  while (builder.size < upTo) {
    const last = Math.min(builder.size + PAGE, upTo);
    const rows = await selectStoredLeaves(db, builder.size, last);
    for (const row of rows) {
      const seq = row.seq;
      if (seq !== builder.size + 1) {
        throw new AuditLogDamaged(
          `the audit log has no event ${builder.size + 1} (next is ${seq})`,
          builder.size + 1,
        );
      }
      const leaf = leafHash(Buffer.from(row.canonical, 'utf8'));
      if (!leaf.equals(row.leafHash)) {
        throw new AuditLogDamaged(`event ${seq}: its bytes no longer hash to the leaf stored with it`, seq);
      }
      builder.push(leaf);
    }
    if (builder.size < last) {
      throw new AuditLogDamaged(`the audit log has no event ${builder.size + 1}`, builder.size + 1);
    }
  }
  return builder.snapshot();
}

/**
 * Checks that the stored events (base.size, expected.size] fold, from `base`, into `expected` — the edge the writer
 * built. The first event found wrong is named; a difference no single row shows (rows swapped with their leaves, a
 * recomputed chain) is reported as the range.
 */
export async function checkAgainst(db: Db, base: Frontier, expected: Frontier): Promise<void> {
  if (expected.size < base.size) {
    throw new AuditLogDamaged(
      `the writer's tree (${expected.size}) is older than a signed one (${base.size})`,
      undefined,
    );
  }
  const stored = await extendVerified(db, base, expected.size);
  if (!sameFrontier(stored, expected)) {
    throw new AuditLogDamaged(
      `events ${base.size + 1}–${expected.size} as stored are not the events that were appended`,
      base.size + 1,
    );
  }
}

/**
 * Brings a tree up to the stored head: the events others appended after `base` are checked and added, and the head's
 * edge (which they extended) must be what they fold into. The head is read first: every event up to its size had
 * committed with it, so the events read next are all there.
 */
export async function catchUp(
  db: Db,
  base: Frontier,
  options: { edgeMayBeMissing?: boolean } = {},
): Promise<Frontier> {
  const head = await readHead(db);
  if (head.frontier === undefined && options.edgeMayBeMissing !== true) {
    // Once a writer has run on this log, its head always carries the edge: without it, what others appended could
    // not be checked against anything.
    throw new AuditLogDamaged("the log's head lost the tree its writers built", head.lastSeq);
  }
  if (head.lastSeq < base.size) {
    throw new AuditLogDamaged(
      `the log's head counts ${head.lastSeq} events, but ${base.size} were appended`,
      head.lastSeq + 1,
    );
  }
  if (head.lastSeq === base.size && head.frontier !== undefined && sameFrontier(head.frontier, base))
    return base;
  const tree = await extendVerified(db, base, head.lastSeq);
  if (head.frontier !== undefined && !sameFrontier(head.frontier, tree)) {
    throw new AuditLogDamaged(
      `events ${base.size + 1}–${head.lastSeq} as stored are not the events that were appended`,
      base.size + 1,
    );
  }
  return tree;
}

/**
 * Where a writer starts: from a tree it trusts (a signed checkpoint's, or the empty tree), every later event checked
 * and the head's edge compared. A log older than migration 0005 has no edge yet: it is written here, once — unless a
 * checkpoint already carried one (`headEdgeRequired`), when a missing edge is damage, not age.
 */
export async function resumeTree(
  db: Db,
  base: Frontier,
  options: { headEdgeRequired: boolean },
): Promise<Frontier> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const head = await readHead(db);
    if (head.frontier === undefined && options.headEdgeRequired) {
      throw new AuditLogDamaged("the log's head lost the tree its writers built", undefined);
    }
    const tree = await catchUp(db, base, { edgeMayBeMissing: head.frontier === undefined });
    if (head.frontier !== undefined) return tree;
    // A log from before migration 0005: its edge is written here, once; when appends moved the head meanwhile,
    // the events they added are read too and the edge written then.
    if (await writeMissingHeadEdge(db, tree)) return tree;
    base = tree;
  }
  throw new Error("the audit log's head kept moving while its tree was rebuilt");
}
