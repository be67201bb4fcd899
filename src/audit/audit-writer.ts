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
 */
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import type pg from 'pg';
import type { Db } from '../store/database.js';
import { encodeEvent, flushWal, insertEncoded, type EncodedEvent } from './audit-log.js';
import type { AuditEventInput } from './event.js';

export interface AuditWriter {
  /** Resolves with the events' sequence numbers once they are committed; rejects if they were not. */
  append(events: readonly AuditEventInput[]): Promise<number[]>;
  /** Waits for what is queued, then refuses further appends. */
  close(): Promise<void>;
  /** Events accepted and not yet committed. */
  readonly backlog: number;
  /** False from a failed batch (or flush) until a later one succeeds: callers that do not wait should refuse. */
  readonly healthy: boolean;
}

export interface AuditWriterOptions {
  readonly db: Db;
  /** The pool behind `db`: with it, the append is a named prepared statement, planned once per connection. */
  readonly pool?: Pick<pg.Pool, 'query'> | undefined;
  readonly clock: Clock;
  /** Events per transaction at most; more wait for the next one. */
  readonly maxBatch?: number;
  /**
   * Batches sent at once (default 1). The head row's lock runs inserts one after another anyway, and with the flush
   * deferred the next insert already overlaps the previous flush; measured, more in flight only made batches smaller.
   */
  readonly maxInFlight?: number;
}

interface Pending {
  readonly events: readonly EncodedEvent[];
  readonly resolve: (seqs: number[]) => void;
  readonly reject: (err: unknown) => void;
}

export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const maxBatch = options.maxBatch ?? 2_000;
  const maxInFlight = options.maxInFlight ?? 1;
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
    const err = new PhigateError(
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
        const seqs = await insertEncoded(
          options.pool ?? options.db,
          batch.flatMap((p) => p.events),
          { deferFlush: true },
        );
        committed.push({ batch, seqs });
        flushDurable();
      } catch (cause) {
        fail(batch, cause);
      }
    }
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
