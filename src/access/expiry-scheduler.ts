/**
 * Ends grants when their time is up, and pending requests when approvers did not act in time.
 *
 * One binary min-heap of persisted deadlines drives one timer armed for the earliest. When it fires, every due entry
 * is closed in batches: one transaction per batch (a conditional update plus its audit rows), so 10,000 grants
 * falling due in one minute cost a few hundred commits, not 10,000. The update re-checks the status, so with several
 * replicas on one store each grant expires exactly once, whichever replica gets there first.
 *
 * The store is the truth, the heap a cache of it: `start()` first ends everything already overdue (grants that fell
 * due while no phigate ran), then loads every active grant; the bus adds activations (local and other replicas'); a
 * periodic sweep catches what the bus missed (NOTIFY is lost while disconnected) and pending deadlines.
 */
import type { Pseudonymizer } from '../audit/pseudonymizer.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { listActiveExpiries, listPendingDeadlines } from '../store/access-request-repository.js';
import type { Db } from '../store/database.js';
import { createAccessAudit } from './access-audit.js';
import type { AccessRequest } from './grant.js';
import { createGrantLifecycle } from './lifecycle.js';
import { MinHeap } from './min-heap.js';
import type { GrantEventBus } from './types.js';

export interface ExpirySchedulerOptions {
  readonly db: Db;
  /** Told how late (ms after its end) each grant it expired was ended: the expiry-lateness metric. */
  readonly onExpired?: ((lateMs: number) => void) | undefined;
  readonly bus: Pick<GrantEventBus, 'announce' | 'subscribe' | 'onResync'>;
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Turns patient ids into the audit log's keyed tokens. */
  readonly pseudonymizer: Pseudonymizer;
  /** Grants closed per transaction. */
  readonly batchSize?: number;
  /** How often the store is swept for deadlines the bus did not bring (other replicas' pending requests). */
  readonly sweepIntervalMs?: number;
}

export interface ExpiryScheduler {
  /** Ends everything overdue, then loads the heap and arms the timer. Await it before serving anything. */
  start(): Promise<void>;
  /** Ends every overdue grant and pending request now; returns how many. Safe to run on several replicas at once. */
  expireOverdue(): Promise<{ readonly expired: number; readonly timedOut: number }>;
  /** Adds a deadline (activations arrive by the bus; this is for callers that know of one earlier). */
  track(id: string, at: Date, kind: DeadlineKind): void;
  /** Deadlines currently held in memory. */
  readonly size: number;
  stop(): Promise<void>;
}

export type DeadlineKind = 'expire' | 'time-out';

interface Entry {
  readonly id: string;
  readonly kind: DeadlineKind;
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const RETRY_MS = 500;

export function createExpiryScheduler(deps: ExpirySchedulerOptions): ExpiryScheduler {
  const { db, bus, clock, logger } = deps;
  const lifecycle = createGrantLifecycle({ audit: createAccessAudit(deps.pseudonymizer), bus });
  const batchSize = deps.batchSize ?? 1000;
  const sweepIntervalMs = deps.sweepIntervalMs ?? 10_000;
  const heap = new MinHeap<Entry>();
  /** id → the deadline the heap holds for it; a heap entry whose key differs (or is absent) is stale. */
  const tracked = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let unsubscribeResync: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let rerun = false;
  let stopped = false;
  let started = false;

  const track = (id: string, at: Date, kind: DeadlineKind): void => {
    const key = at.getTime();
    if (tracked.get(id) === key) return;
    tracked.set(id, key);
    heap.push(key, { id, kind });
    if (started) arm();
  };

  const arm = (delayOverride?: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = undefined;
    const next = heap.peek();
    if (next === undefined) return;
    const delay = delayOverride ?? Math.min(Math.max(0, next.key - clock.now().getTime()), MAX_TIMEOUT_MS);
    timer = setTimeout(fire, delay);
  };

  const fire = (): void => {
    timer = undefined;
    if (running !== undefined) {
      rerun = true;
      return;
    }
    running = drain()
      .catch((err: unknown) => logger.error({ err }, 'expiry run failed'))
      .finally(() => {
        running = undefined;
        if (rerun) {
          rerun = false;
          fire();
        } else arm();
      });
  };

  /** Closes due entries batch after batch until nothing in the heap is due. */
  const drain = async (): Promise<void> => {
    while (!stopped) {
      const now = clock.now();
      const due = heap.popUntil(now.getTime(), batchSize).filter((e) => tracked.get(e.value.id) === e.key);
      if (due.length === 0) return;
      const expireIds = due.filter((e) => e.value.kind === 'expire').map((e) => e.value.id);
      const timeOutIds = due.filter((e) => e.value.kind === 'time-out').map((e) => e.value.id);
      try {
        await closeBatch(now, { expire: expireIds, timeOut: timeOutIds });
        for (const e of due) if (tracked.get(e.value.id) === e.key) tracked.delete(e.value.id);
      } catch (err) {
        // The store is down or the audit append failed: nothing ended. Keep the deadlines and try again soon.
        for (const e of due) heap.push(e.key, e.value);
        logger.error({ err, count: due.length }, 'could not end due grants; retrying');
        arm(RETRY_MS);
        return;
      }
    }
  };

  const closeBatch = async (
    now: Date,
    batch: { expire?: readonly string[]; timeOut?: readonly string[]; limit?: number },
  ): Promise<{ expired: AccessRequest[]; timedOut: AccessRequest[] }> => {
    const { deliver, expired, timedOut } = await db.transaction().execute(async (tx) => {
      const limit = batch.limit ?? batchSize;
      const expired =
        batch.expire?.length === 0
          ? []
          : await lifecycle.closeDue(tx, 'expire', { now, ids: batch.expire, limit });
      const timedOut =
        batch.timeOut?.length === 0
          ? []
          : await lifecycle.closeDue(tx, 'time-out', { now, ids: batch.timeOut, limit });
      // Announced with the commit: every replica cuts sessions and drops roles of grants that have really ended.
      const deliver = await lifecycle.record(tx, [...expired, ...timedOut], now);
      return { expired, timedOut, deliver };
    });
    deliver();
    const result = { expired: expired.map((c) => c.request), timedOut: timedOut.map((c) => c.request) };
    // After the commit: lateness of grants that really ended (a metric; the audit record carries it too).
    for (const request of result.expired)
      if (request.expiresAt !== undefined) deps.onExpired?.(now.getTime() - request.expiresAt.getTime());
    return result;
  };

  const expireOverdue = async (): Promise<{ expired: number; timedOut: number }> => {
    let expired = 0;
    let timedOut = 0;
    for (;;) {
      const r = await closeBatch(clock.now(), { limit: batchSize });
      expired += r.expired.length;
      timedOut += r.timedOut.length;
      if (r.expired.length < batchSize && r.timedOut.length < batchSize) break;
    }
    if (expired + timedOut > 0) logger.info({ expired, timedOut }, 'ended overdue grants and requests');
    return { expired, timedOut };
  };

  const loadDeadlines = async (horizon: Date | undefined): Promise<void> => {
    const [active, pending] = await Promise.all([
      listActiveExpiries(db, horizon),
      listPendingDeadlines(db, horizon ?? new Date(clock.now().getTime() + 2 * sweepIntervalMs)),
    ]);
    for (const d of active) if (!tracked.has(d.id)) track(d.id, d.at, 'expire');
    for (const d of pending) if (!tracked.has(d.id)) track(d.id, d.at, 'time-out');
  };

  const sweep = async (): Promise<void> => {
    await expireOverdue();
    await loadDeadlines(new Date(clock.now().getTime() + 2 * sweepIntervalMs));
    arm();
  };

  return {
    async start() {
      if (started || stopped) return;
      await expireOverdue();
      unsubscribe = bus.subscribe((event) => {
        if (event.type === 'grant.activated') track(event.grantId, new Date(event.expiresAt), 'expire');
        else tracked.delete(event.grantId);
      });
      // Activations announced while this replica's listener was away are in the store.
      unsubscribeResync = bus.onResync(() => {
        sweep().catch((err: unknown) => logger.error({ err }, 'expiry sweep failed'));
      });
      await loadDeadlines(undefined);
      started = true;
      arm();
      sweepTimer = setInterval(() => {
        sweep().catch((err: unknown) => logger.error({ err }, 'expiry sweep failed'));
      }, sweepIntervalMs);
      sweepTimer.unref();
    },
    expireOverdue,
    track,
    get size() {
      return tracked.size;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(sweepTimer);
      unsubscribe?.();
      unsubscribeResync?.();
      await running;
    },
  };
}
