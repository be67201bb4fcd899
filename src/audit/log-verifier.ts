/**
 * Verification of a whole log in one pass, from whatever holds it (the store, an export file): recompute every leaf
 * from its canonical bytes, rebuild the tree with a frontier, and compare the root at each claimed checkpoint size
 * with what was signed. Pure and synchronous; the callers stream events into it.
 *
 * What it can pin down, it pins to a sequence number: a gap, a duplicate or a reordering at that seq; a stored leaf
 * hash that does not match the bytes at that seq; a log shorter than a signed checkpoint. A rewrite that kept every
 * row self-consistent (the chain recomputed, rows swapped with their leaves) shows only as a root that differs from
 * a signed one: that is reported as the range the checkpoint covers being inconsistent — after the last checkpoint
 * that still matches — never as an event named altered, which the report could not know.
 */
import type { KeyObject } from 'node:crypto';
import { publicKeyId, verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { FrontierBuilder, type Frontier } from './merkle-frontier.js';
import { leafHash } from './merkle.js';

export interface CheckpointClaim {
  /** Where the claim comes from: `store`, `export`, or a witness's name. */
  readonly source: string;
  readonly body: string;
  readonly signature: string;
}

export interface VerifyProblem {
  readonly code: string;
  readonly message: string;
  /** The first sequence number the problem concerns, when it concerns one. */
  readonly seq?: number;
  /** For a problem located only to a range (a root that differs): its last sequence number. */
  readonly lastSeq?: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** Events read. */
  readonly size: number;
  /** Root of everything read, base64. */
  readonly rootHash: string;
  readonly checkpointsVerified: number;
  /** Distinct sources whose checkpoints were checked (store, export, witnesses). */
  readonly sources: readonly string[];
  /** The largest size vouched for by a verified signature; events after it are not yet covered by one. */
  readonly signedSize: number;
  readonly problems: readonly VerifyProblem[];
  /** The first event found altered, missing or out of place: an exact finding, never the start of a range. */
  readonly firstBadSeq: number | undefined;
  /**
   * The first range a checkpoint covers that is inconsistent with it, when no exact finding explains it: some event
   * in it was changed, but which one the log alone cannot tell.
   */
  readonly inconsistentRange?: { readonly from: number; readonly to: number } | undefined;
}

interface Claim {
  readonly size: number;
  readonly source: string;
  readonly checkpoint: Checkpoint;
}

export interface LogVerifierOptions {
  readonly claims: readonly CheckpointClaim[];
  /** Keys whose signatures are trusted; a checkpoint signed by any other key is a problem. */
  readonly trustedKeys: readonly KeyObject[];
  /** When given, checkpoints naming another log are problems. */
  readonly origin?: string | undefined;
  /** Stop collecting after this many problems (a rewritten log would otherwise list every event). */
  readonly maxProblems?: number;
  /** Keep the tree's edge at this size (see `edgeAt`): the store's head is compared with it. */
  readonly keepEdgeAt?: number | undefined;
}

export class LogVerifier {
  private readonly builder = new FrontierBuilder();
  private readonly pending: Claim[];
  private readonly problems: VerifyProblem[] = [];
  private readonly maxProblems: number;
  private readonly sources = new Set<string>();
  private verified = 0;
  /** Index of the next claim to settle in `pending` (sorted by size). */
  private next = 0;
  private lastSeq = 0;
  private lastGoodSize = 0;
  private signedSize = 0;
  private readonly keepEdgeAt: number | undefined;
  private edge: Frontier | undefined;

  constructor(options: LogVerifierOptions) {
    this.maxProblems = options.maxProblems ?? 100;
    this.keepEdgeAt = options.keepEdgeAt;
    if (this.keepEdgeAt === 0) this.edge = this.builder.snapshot();
    const keys = options.trustedKeys.map((key) => ({ key, id: publicKeyId(key) }));
    const claims: Claim[] = [];
    for (const c of options.claims) {
      this.sources.add(c.source);
      const checkpoint = keys
        .map((k) => verifyCheckpoint(c.body, c.signature, k.key))
        .find((x) => x !== undefined);
      if (checkpoint === undefined) {
        this.problem({
          code: 'checkpoint.bad-signature',
          message: `${c.source}: a checkpoint whose signature no trusted key verifies (${firstLine(c.body, 2)})`,
        });
        continue;
      }
      if (options.origin !== undefined && checkpoint.origin !== options.origin) {
        this.problem({
          code: 'checkpoint.other-log',
          message: `${c.source}: a checkpoint of log "${checkpoint.origin}", not "${options.origin}"`,
        });
        continue;
      }
      claims.push({ size: Number(checkpoint.size), source: c.source, checkpoint });
    }
    this.pending = claims.sort((a, b) => a.size - b.size);
    this.settle();
  }

  /** The next event: its seq as stored, its canonical bytes, and the leaf hash stored with it, if any. */
  push(seq: number, canonical: Uint8Array, storedLeaf?: Buffer): void {
    this.pushLeaf(seq, leafHash(canonical), storedLeaf);
  }

  /** The next event's leaf hash, computed by the caller (see leaf-hasher.ts), and the one stored with it. */
  pushLeaf(seq: number, leaf: Buffer, storedLeaf?: Buffer): void {
    const expected = this.lastSeq + 1;
    if (seq !== expected) {
      this.problem({
        code: seq < expected ? 'log.out-of-order' : 'log.gap',
        seq: Math.min(seq, expected),
        message:
          seq < expected
            ? `event ${seq} appears again, or out of order, after event ${this.lastSeq}`
            : `events ${expected}–${seq - 1} are missing`,
      });
    }
    this.lastSeq = seq;
    if (storedLeaf !== undefined && !storedLeaf.equals(leaf)) {
      this.problem({
        code: 'event.altered',
        seq,
        message: `event ${seq}: its bytes no longer hash to the leaf stored with it`,
      });
    }
    this.builder.push(leaf);
    if (this.builder.size === this.keepEdgeAt) this.edge = this.builder.snapshot();
    this.settle();
  }

  /** The recomputed tree's edge at `keepEdgeAt`, once the log reached it. */
  edgeAt(): Frontier | undefined {
    return this.edge;
  }

  finish(): VerifyReport {
    const size = this.builder.size;
    for (const claim of this.pending.slice(this.next)) {
      this.problem({
        code: 'log.truncated',
        seq: size + 1,
        message: `${claim.source}: a checkpoint vouches for ${claim.checkpoint.size} events, but only ${size} are here`,
      });
    }
    this.next = this.pending.length;
    return withProblems(
      {
        ok: true,
        size,
        rootHash: this.builder.root().toString('base64'),
        checkpointsVerified: this.verified,
        sources: [...this.sources],
        signedSize: this.signedSize,
        problems: [],
        firstBadSeq: undefined,
      },
      this.problems,
    );
  }

  /** Compares the root with every claim made for the current size. */
  private settle(): void {
    // The per-event fast path: nothing is claimed for this size.
    const size = this.builder.size;
    while (this.next < this.pending.length && this.pending[this.next]!.size === size) {
      const claim = this.pending[this.next++]!;
      if (this.builder.root().equals(claim.checkpoint.rootHash)) {
        this.verified += 1;
        this.lastGoodSize = Math.max(this.lastGoodSize, this.builder.size);
        this.signedSize = Math.max(this.signedSize, this.builder.size);
      } else {
        const from = this.lastGoodSize + 1;
        this.problem({
          code: 'checkpoint.mismatch',
          seq: from,
          lastSeq: this.builder.size,
          message:
            `${claim.source}: the range ${from}–${size} that the checkpoint signed at ` +
            `${claim.checkpoint.time.toISOString()} covers is inconsistent with it (an event in it was changed, ` +
            `moved or removed with its leaf recomputed; no single row shows which)`,
        });
      }
    }
  }

  private problem(p: VerifyProblem): void {
    if (this.problems.length < this.maxProblems) this.problems.push(p);
  }
}

function firstLine(body: string, line: number): string {
  return (body.split('\n')[line] ?? '').slice(0, 40);
}

/** The first exactly located problem (a gap, an altered or moved event): a range only says "somewhere in here". */
export function firstBad(problems: readonly VerifyProblem[]): number | undefined {
  const exact = problems.filter((p) => p.seq !== undefined && p.lastSeq === undefined).map((p) => p.seq!);
  return exact.length === 0 ? undefined : Math.min(...exact);
}

/** The first inconsistent range that no exact finding inside it explains. */
export function firstRange(problems: readonly VerifyProblem[]): { from: number; to: number } | undefined {
  const exact = problems.filter((p) => p.seq !== undefined && p.lastSeq === undefined).map((p) => p.seq!);
  const ranges = problems
    .filter((p) => p.seq !== undefined && p.lastSeq !== undefined)
    .filter((p) => !exact.some((s) => s >= p.seq! && s <= p.lastSeq!))
    .map((p) => ({ from: p.seq!, to: p.lastSeq! }))
    .sort((a, b) => a.from - b.from || a.to - b.to);
  return ranges[0];
}

/** A report with more problems (the export's, the store's defences): ok, first event and first range recomputed. */
export function withProblems<R extends VerifyReport>(report: R, more: readonly VerifyProblem[]): R {
  const problems = [...report.problems, ...more];
  return {
    ...report,
    ok: problems.length === 0,
    problems,
    firstBadSeq: firstBad(problems),
    inconsistentRange: firstRange(problems),
  };
}
