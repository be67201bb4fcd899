/**
 * The delivery worker: routes new alerts to their channels, claims due deliveries and delivers them, at least once.
 *
 * - Several replicas may run it: claims take rows with `FOR UPDATE SKIP LOCKED` and hold them by lease, so no two
 *   workers run the same attempt at once; a worker that dies leaves its claims due again when their lease ends.
 * - Every attempt of an alert carries the same message id (webhook-id, dedup key, Message-ID): a duplicate, after a
 *   crash or a lost answer, is recognisable as one.
 * - Each outcome is recorded in the audit log, then in the outbox (delivery-attempt.ts).
 * - It wakes on NOTIFY of a new alert (a trigger sends it at commit, to every replica), when a delivery finishes,
 *   and at least every `pollMs` or when the next retry falls due.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { claimDueDeliveries, nextDueAt, routeNewAlerts } from '../store/alert-delivery-repository.js';
import type { AlertSeverity } from './alert-kinds.js';
import type { AlertChannel } from './channel.js';
import { listenForAlerts, type AlertListener } from './alert-listener.js';
import { runAttempt, type AttemptContext } from './delivery-attempt.js';
import { channelsFor, type AlertRoute } from './routing.js';

export type { DeliveryOutcome, DeliveryTiming } from './delivery-attempt.js';

export interface DeliveryWorkerOptions extends AttemptContext {
  /** For LISTEN; without it the worker only polls and is woken in-process. */
  readonly pool?: pg.Pool | undefined;
  readonly channels: readonly AlertChannel[];
  readonly routes: readonly AlertRoute[];
  readonly concurrency?: number | undefined;
  readonly pollMs?: number | undefined;
  readonly logger: AttemptContext['logger'] & { error(obj: object, msg: string): void };
}

export interface DeliveryWorker {
  /** Starts listening and delivering; resolves once the listener is in place (or has failed and polling covers). */
  start(): Promise<void>;
  /** Looks for work now (an alert was raised in this process, a dead letter replayed). */
  wake(): void;
  /** Aborts attempts in flight (their claims are given back, uncounted) and stops. */
  stop(): Promise<void>;
}

export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { db, clock, logger } = options;
  const concurrency = options.concurrency ?? 8;
  const pollMs = options.pollMs ?? 5_000;
  // Longer than any attempt can last, so that a slow attempt is never claimed again while it runs.
  const leaseMs = options.attemptTimeoutMs * 2 + 5_000;
  const byName = new Map(options.channels.map((c) => [c.name, c]));
  const names = [...byName.keys()];
  const inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let stopped = false;
  let pumping: Promise<void> | undefined;
  let again = false;
  let routeNeeded = true;
  /** The last claim filled every free slot: more may be due, and the deliveries' ends will pump. */
  let saturated = false;
  let timer: NodeJS.Timeout | undefined;
  let listener: AlertListener | undefined;

  const channelsOf = (alert: { kind: string; severity: AlertSeverity }): string[] =>
    channelsFor(options.routes, alert).filter((c) => byName.has(c));

  /** Something may have been raised or replayed (NOTIFY, the timer, a caller): route before claiming. */
  const wake = (): void => {
    routeNeeded = true;
    pumpNow();
  };

  const pumpNow = (): void => {
    if (stopped) return;
    if (pumping !== undefined) {
      again = true;
      return;
    }
    pumping = pump().finally(() => {
      pumping = undefined;
      if (again && !stopped) pumpNow();
      // Idle (nothing more was due): the timer wakes us for the next retry or the poll. While deliveries are in
      // flight, each one's end pumps again.
      else if (!saturated) void scheduleTimer();
    });
  };

  const pump = async (): Promise<void> => {
    do {
      again = false;
      try {
        if (routeNeeded) {
          routeNeeded = false;
          while ((await routeNewAlerts(db, channelsOf, clock.now(), 100)) === 100 && !stopped);
        }
        const free = concurrency - inFlight.size;
        saturated = free <= 0;
        if (free <= 0 || stopped) return;
        const now = clock.now();
        const claimId = randomUUID();
        const claimed = await claimDueDeliveries(db, {
          claimId,
          now,
          leaseUntil: new Date(now.getTime() + leaseMs),
          limit: free,
          channels: names,
        });
        for (const delivery of claimed) start(delivery, claimId);
        saturated = claimed.length === free;
        if (saturated) again = true;
      } catch (err) {
        saturated = false;
        routeNeeded = true;
        logger.warn({ err }, 'alert delivery could not read the outbox; trying again shortly');
        return;
      }
    } while (again && !stopped);
  };

  const scheduleTimer = async (): Promise<void> => {
    let wait = pollMs;
    try {
      const due = await nextDueAt(db, names);
      if (due !== undefined) wait = Math.min(wait, Math.max(0, due.getTime() - clock.now().getTime()) + 10);
    } catch {
      // The poll tries again.
    }
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(wake, wait);
    timer.unref();
  };

  const start = (delivery: Parameters<typeof runAttempt>[2], claimId: string): void => {
    const key = `${delivery.alert.id}/${delivery.channel}`;
    const controller = new AbortController();
    const channel = byName.get(delivery.channel)!;
    const done = runAttempt(options, channel, delivery, claimId, controller.signal)
      // Not recorded (the store or the audit log failed): the claim's lease ends and the attempt is repeated.
      .catch((err: unknown) =>
        logger.error({ err, alertId: delivery.alert.id }, 'an alert delivery outcome could not be recorded'),
      )
      .finally(() => {
        inFlight.delete(key);
        pumpNow();
      });
    inFlight.set(key, { controller, done });
  };

  return {
    async start() {
      if (options.pool !== undefined) listener = await listenForAlerts(options.pool, wake, logger);
      wake();
    },
    wake,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await listener?.close();
      // After the pump: a claim it made while we stopped is in flight by then, and is aborted with the others.
      await pumping;
      for (const { controller } of inFlight.values()) controller.abort(new Error('stopping'));
      await Promise.all([...inFlight.values()].map((f) => f.done));
      await Promise.all(options.channels.map((c) => (c.close ? c.close() : Promise.resolve())));
    },
  };
}
