/**
 * Group commit for events that are not part of another change's transaction: a gateway statement, a refused sign-in.
 * Callers wait for their events to be durable (that is the point: the statement is forwarded, the refusal answered,
 * only once its record has committed), but they do not each pay for a commit. While one batch commits, the next
 * gathers; each batch is one prepared statement that is its own transaction (one round trip). That transaction
 * commits without waiting for the disk, so the audit head's row lock — which serialises batches across replicas —
 * is held for the insert only; callers are answered after a separate WAL flush that covers every batch committed
 * before it (one disk write for many batches).
 *
 * Fail closed: when a batch cannot commit, every caller in it is rejected — none is told its event was recorded.
 *
 * The writer also keeps the Merkle tree it built as it appended (its right edge, `tree()`), in memory and in the head
 * row with each batch: the checkpointer signs that tree, not one recomputed from the table (appended-tree.ts). Each
 * batch states the size it follows; when another appender came first (a control-plane transaction, a replica), the
 * writer reads their events, checks them and extends its tree before trying again.
 */
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import type pg from 'pg';
import type { Db } from '../store/database.js';
import { AuditLogDamaged, catchUp, resumeTree } from './appended-tree.js';
import { encodeEvent, extendFrontier } from './audit-log.js';
import { flushWal, insertEncoded, type EncodedEvent } from '../store/audit-append-repository.js';
import type { AuditEventInput } from './event.js';
import { EMPTY_FRONTIER, type Frontier } from './merkle-frontier.js';

export interface AuditWriter {
  /** Resolves with the events' sequence numbers once they are committed; rejects if they were not. */
  append(events: readonly AuditEventInput[]): Promise<number[]>;
  /** Waits for what is queued, then refuses further appends. */
  close(): Promise<void>;
  /** Events accepted and not yet committed. */
  readonly backlog: number;
  /** False from a failed batch (or flush) until a later one succeeds: callers that do not wait should refuse. */
  readonly healthy: boolean;
  /**
   * The tree as appended: this writer's batches and, checked, every event others appended before its last batch or
   * catch-up. Resumes first (see `resume`) when nothing was appended yet.
   */
  tree(): Promise<Frontier>;
  /** Reads, checks and adds what others appended since; returns the tree. Throws AuditLogDamaged on a difference. */
  catchUp(): Promise<Frontier>;
  /** Called after each batch commits (not yet flushed), with the tree including it. */
  onCommitted(listener: (tree: Frontier) => void): () => void;
}

export interface AuditWriterOptions {
  readonly db: Db;
  /** The pool behind `db`: with it, the append is a named prepared statement, planned once per connection. */
  readonly pool?: Pick<pg.Pool, 'query'> | undefined;
  readonly clock: Clock;
  /** Events per transaction at most; more wait for the next one. */
  readonly maxBatch?: number;
  /**
   * The tree to start from, before the first batch: the audit service resumes from its latest own signed checkpoint
   * and the events after it, checked. Default: every stored event, checked against the head's edge.
   */
  readonly resume?: () => Promise<Frontier>;
}

/** Other appenders coming first this many times in a row means something other than contention. */
const MAX_CATCH_UPS = 1_000;

interface Pending {
  readonly events: readonly EncodedEvent[];
  readonly resolve: (seqs: number[]) => void;
  readonly reject: (err: unknown) => void;
}

export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const maxBatch = options.maxBatch ?? 2_000;
  // One batch at a time: each extends the tree the previous one left. The head row's lock runs inserts one after
  // another anyway, and with the flush deferred the next insert already overlaps the previous flush.
  const maxInFlight = 1;
  const resume =
    options.resume ?? (() => resumeTree(options.db, EMPTY_FRONTIER, { headEdgeRequired: false }));
  const listeners = new Set<(tree: Frontier) => void>();
  let current: Frontier | undefined;
  let resuming: Promise<Frontier> | undefined;
  /** Serialises what moves the tree: batches and catch-ups. */
  let treeLock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = treeLock.then(work, work);
    treeLock = next.catch(() => undefined);
    return next;
  };
  const ready = async (): Promise<Frontier> => {
    if (current !== undefined) return current;
    // A failed resume is tried again by the next caller: damage stays damage, an outage may pass.
    resuming ??= resume().finally(() => (resuming = undefined));
    current = await resuming;
    return current;
  };
  const queue: Pending[] = [];
  const flushing = new Set<Promise<void>>();
  let closed = false;
  let healthy = true;
  let backlog = 0;

  const takeBatch = (): Pending[] => {
    const batch: Pending[] = [];
    let n = 0;
    while (queue.length > 0 && (batch.length === 0 || n + queue[0]!.events.length <= maxBatch)) {
      const next = queue.shift()!;
      n += next.events.length;
      batch.push(next);
    }
    return batch;
  };

  const fail = (batch: readonly Pending[], cause: unknown): void => {
    const err =
      cause instanceof AuditLogDamaged
        ? new PhigateError(
            'unavailable',
            'audit.damaged',
            `the audit log is damaged: ${cause.message}`,
            {},
            { cause },
          )
        : new PhigateError(
            'unavailable',
            'audit.unavailable',
            'the audit log could not record the event',
            {},
            { cause },
          );
    healthy = false;
    for (const p of batch) p.reject(err);
  };

  /**
   * Committed batches wait here for the next WAL flush that starts after their commit; one flush covers every
   * batch committed before it began.
   */
  let committed: { batch: Pending[]; seqs: number[] }[] = [];
  let flushRunning: Promise<void> | undefined;
  const flushDurable = (): void => {
    if (flushRunning !== undefined || committed.length === 0) return;
    flushRunning = flushLoop().finally(() => {
      flushRunning = undefined;
      // A batch that committed while the loop was finishing must not wait for a next batch that may never come.
      flushDurable();
    });
  };
  const flushLoop = async (): Promise<void> => {
    while (committed.length > 0) {
      const covered = committed;
      committed = [];
      try {
        await flushWal(options.db);
      } catch (cause) {
        for (const c of covered) fail(c.batch, cause);
        continue;
      }
      healthy = true;
      for (const { batch, seqs } of covered) {
        let at = 0;
        for (const p of batch) {
          p.resolve(seqs.slice(at, at + p.events.length));
          at += p.events.length;
        }
      }
    }
  };

  const insertBatches = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = takeBatch();
      for (const p of batch) backlog -= p.events.length;
      try {
        const seqs = await exclusive(() => insertOnTree(batch.flatMap((p) => p.events)));
        committed.push({ batch, seqs });
        flushDurable();
        for (const listener of listeners) listener(current!);
      } catch (cause) {
        fail(batch, cause);
      }
    }
  };

  /** Inserts after the tree as this writer knows it; when the log has grown past it, catches up and tries again. */
  const insertOnTree = async (rows: EncodedEvent[]): Promise<number[]> => {
    let base = await ready();
    for (let attempt = 0; attempt < MAX_CATCH_UPS; attempt++) {
      const next = extendFrontier(base, rows);
      const seqs = await insertEncoded(options.pool ?? options.db, rows, {
        deferFlush: true,
        after: { size: base.size, frontier: next },
      });
      if (seqs.length > 0) {
        current = next;
        return seqs;
      }
      base = current = await catchUp(options.db, base);
    }
    throw new Error(`the audit log's head moved ${MAX_CATCH_UPS} times in a row under this writer`);
  };

  const kick = (): void => {
    while (flushing.size < maxInFlight && queue.length > 0) {
      const run: Promise<void> = insertBatches().finally(() => {
        flushing.delete(run);
        if (queue.length > 0) kick();
      });
      flushing.add(run);
    }
  };

  return {
    append(events) {
      if (closed) {
        return Promise.reject(new PhigateError('unavailable', 'audit.closed', 'the audit writer is closed'));
      }
      if (events.length === 0) return Promise.resolve([]);
      // Encoded now, with the time of the call: the hashing happens while the previous batch commits, and an event
      // that cannot be encoded fails its own caller only.
      let encoded: EncodedEvent[];
      try {
        const now = options.clock.now();
        encoded = events.map((e) => encodeEvent(e, now));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return new Promise<number[]>((resolve, reject) => {
        queue.push({ events: encoded, resolve, reject });
        backlog += encoded.length;
        kick();
      });
    },
    get backlog() {
      return backlog;
    },
    get healthy() {
      return healthy;
    },
    tree: () => exclusive(ready),
    catchUp: () =>
      exclusive(async () => {
        current = await catchUp(options.db, await ready());
        return current;
      }),
    onCommitted(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      // Each wait is on real work (an insert or a flush in progress), so this loop always yields to I/O.
      while (flushing.size > 0 || flushRunning !== undefined) {
        await Promise.all(flushing);
        await flushRunning;
      }
    },
  };
}
