/**
 * The delivery worker: routes new alerts to their channels, claims due deliveries and delivers them, at least once.
 *
 * - Several replicas may run it: claims take rows with `FOR UPDATE SKIP LOCKED` and hold them by lease, so no two
 *   workers run the same attempt at once; a worker that dies leaves its claims due again when their lease ends.
 * - Every attempt of an alert carries the same message id (webhook-id, dedup key, Message-ID): a duplicate, after a
 *   crash or a lost answer, is recognisable as one.
 * - Each outcome is first recorded in the audit log, then in the outbox: a delivery is never marked delivered (or
 *   dead) without its audit event; a crash between the two repeats the attempt, not the silence.
 * - It wakes on NOTIFY of a new alert (a trigger sends it at commit, to every replica), when a delivery finishes,
 *   and at least every `pollMs` or when the next retry falls due.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { AuditEventInput } from '../audit/event.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Db } from '../store/database.js';
import {
  claimDueDeliveries,
  nextDueAt,
  recordDelivered,
  recordFailed,
  releaseClaim,
  routeNewAlerts,
  type ClaimedDelivery,
} from '../store/alert-delivery-repository.js';
import { alertMessage } from './alert-message.js';
import { nextAttemptAt, type BackoffBounds } from './backoff.js';
import { describeFailure, type AlertChannel } from './channel.js';
import { channelsFor, type AlertRoute } from './routing.js';

export type DeliveryOutcome = 'delivered' | 'retry' | 'dead';

export interface DeliveryTiming {
  readonly attemptMs: number;
  /** From the alert's raising to this outcome. */
  readonly sinceRaisedMs: number;
}

export interface DeliveryWorkerOptions {
  readonly db: Db;
  /** For LISTEN; without it the worker only polls and is woken in-process. */
  readonly pool?: pg.Pool | undefined;
  readonly channels: readonly AlertChannel[];
  readonly routes: readonly AlertRoute[];
  /** Base of the links back into phigate. */
  readonly publicUrl: string;
  /** The audit log's writer (only `append` is used). */
  readonly audit: { append(events: readonly AuditEventInput[]): Promise<number[]> };
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly maxAttempts: number;
  readonly backoff: BackoffBounds;
  /** One attempt's limit; the claim's lease is longer, so a slow attempt is never run twice at once. */
  readonly attemptTimeoutMs: number;
  readonly concurrency?: number | undefined;
  readonly pollMs?: number | undefined;
  readonly random?: (() => number) | undefined;
  /** Each attempt's outcome, how long it took, and (delivered) how long after the alert was raised. */
  readonly onOutcome?:
    ((channel: string, outcome: DeliveryOutcome, timing: DeliveryTiming) => void) | undefined;
}

export interface DeliveryWorker {
  /** Starts listening and delivering; resolves once the listener is in place (or has failed and polling covers). */
  start(): Promise<void>;
  /** Looks for work now (an alert was raised in this process, a dead letter replayed). */
  wake(): void;
  /** Aborts attempts in flight (their claims are given back, uncounted) and stops. */
  stop(): Promise<void>;
}

export const ALERT_CHANNEL = 'phigate_alerts';

export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { db, clock, logger } = options;
  const concurrency = options.concurrency ?? 8;
  const pollMs = options.pollMs ?? 5_000;
  const leaseMs = options.attemptTimeoutMs * 2 + 5_000;
  const byName = new Map(options.channels.map((c) => [c.name, c]));
  const names = [...byName.keys()];
  const inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let stopped = false;
  let pumping: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let listener: pg.Client | undefined;
  let relistenTimer: NodeJS.Timeout | undefined;

  const channelsOf = (alert: { kind: string; severity: 'info' | 'warning' | 'critical' }): string[] =>
    channelsFor(options.routes, alert).filter((c) => byName.has(c));

  const wake = (): void => {
    if (stopped) return;
    if (pumping !== undefined) {
      again = true;
      return;
    }
    pumping = pump().finally(() => {
      pumping = undefined;
      if (again && !stopped) wake();
      else void scheduleTimer();
    });
  };

  const pump = async (): Promise<void> => {
    do {
      again = false;
      try {
        while ((await routeNewAlerts(db, channelsOf, clock.now(), 100)) === 100 && !stopped);
        const free = concurrency - inFlight.size;
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
        if (claimed.length === free) again = true;
      } catch (err) {
        logger.warn({ err }, 'alert delivery could not read the outbox; trying again shortly');
        return;
      }
    } while (again && !stopped);
  };

  const scheduleTimer = async (): Promise<void> => {
    clearTimeout(timer);
    if (stopped) return;
    let wait = pollMs;
    try {
      const due = await nextDueAt(db, names);
      if (due !== undefined) wait = Math.min(wait, Math.max(0, due.getTime() - clock.now().getTime()) + 10);
    } catch {
      // The poll below tries again.
    }
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(wake, wait);
    timer.unref();
  };

  const start = (delivery: ClaimedDelivery, claimId: string): void => {
    const key = `${delivery.alert.id}/${delivery.channel}`;
    const controller = new AbortController();
    const done = attempt(delivery, claimId, controller.signal)
      .catch((err: unknown) =>
        logger.error({ err, alertId: delivery.alert.id }, 'alert delivery failed to record'),
      )
      .finally(() => {
        inFlight.delete(key);
        wake();
      });
    inFlight.set(key, { controller, done });
  };

  const attempt = async (d: ClaimedDelivery, claimId: string, stopSignal: AbortSignal): Promise<void> => {
    const channel = byName.get(d.channel)!;
    const held = { alertId: d.alert.id, channel: d.channel, claimId };
    const message = alertMessage(d.alert, options.publicUrl);
    const signal = AbortSignal.any([stopSignal, AbortSignal.timeout(options.attemptTimeoutMs)]);
    const started = performance.now();
    let failure: string | undefined;
    try {
      if (stopSignal.aborted) throw new Error('stopping');
      await channel.deliver(message, signal);
    } catch (err) {
      failure = describeFailure(err, signal);
    }
    const latencyMs = performance.now() - started;
    if (stopSignal.aborted) {
      // Stopping: the outcome is unknown. The attempt is given back; another worker (or our restart) repeats it.
      await releaseClaim(db, held, clock.now());
      return;
    }
    const now = clock.now();
    const retryAt =
      failure === undefined
        ? undefined
        : nextAttemptAt(d.attempt, options.maxAttempts, now, options.backoff, options.random);
    const outcome: DeliveryOutcome =
      failure === undefined ? 'delivered' : retryAt !== undefined ? 'retry' : 'dead';
    await options.audit.append([auditEvent(d, channel, outcome, failure, retryAt)]);
    const recorded =
      failure === undefined
        ? await recordDelivered(db, held, now)
        : await recordFailed(db, held, { error: failure, retryAt, at: now });
    if (!recorded)
      logger.warn({ alertId: d.alert.id, channel: d.channel }, 'an alert delivery outlived its claim');
    if (outcome !== 'delivered') {
      logger.warn(
        { alertId: d.alert.id, channel: d.channel, attempt: d.attempt, error: failure, retryAt },
        outcome === 'dead' ? 'alert delivery gave up (dead letter)' : 'alert delivery failed; will retry',
      );
    }
    options.onOutcome?.(d.channel, outcome, {
      attemptMs: latencyMs,
      sinceRaisedMs: now.getTime() - d.alert.createdAt.getTime(),
    });
  };

  const listen = async (): Promise<void> => {
    if (options.pool === undefined || stopped) return;
    const client = new pg.Client(options.pool.options);
    const lost = (): void => {
      if (listener !== client) return;
      listener = undefined;
      client.end().catch(() => undefined);
      if (stopped) return;
      // Polling covers the gap; listen again shortly and look for work missed meanwhile.
      relistenTimer = setTimeout(() => void listen().then(wake), 1_000);
      relistenTimer.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel === ALERT_CHANNEL) wake();
    });
    listener = client;
    try {
      await client.connect();
      await client.query(`listen ${ALERT_CHANNEL}`);
      if (stopped) await client.end();
    } catch (err) {
      logger.warn({ err }, 'alert delivery cannot LISTEN; polling only until it can');
      lost();
    }
  };

  return {
    async start() {
      await listen();
      wake();
    },
    wake,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(relistenTimer);
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => undefined);
      // After the pump: a claim it made while we stopped is in flight by then, and is aborted with the others.
      await pumping;
      for (const { controller } of inFlight.values()) controller.abort(new Error('stopping'));
      await Promise.all([...inFlight.values()].map((f) => f.done));
      await Promise.all(options.channels.map((c) => (c.close ? c.close() : Promise.resolve())));
    },
  };
}

function auditEvent(
  d: ClaimedDelivery,
  channel: AlertChannel,
  outcome: DeliveryOutcome,
  failure: string | undefined,
  retryAt: Date | undefined,
): AuditEventInput {
  const detail = {
    alertId: d.alert.id,
    kind: d.alert.kind,
    severity: d.alert.severity,
    channel: channel.name,
    channelType: channel.type,
    attempt: d.attempt,
    ...(failure !== undefined ? { error: failure } : {}),
    ...(retryAt !== undefined ? { retryAt: retryAt.toISOString() } : {}),
  };
  const what = d.alert.requestId !== null ? { requestId: d.alert.requestId } : undefined;
  const who = { actor: 'system' };
  switch (outcome) {
    case 'delivered':
      return { action: 'alert.delivered', outcome: 'success', who, what, detail };
    case 'retry':
      return {
        action: 'alert.retry',
        outcome: 'failure',
        reasonCode: 'alert.delivery-failed',
        who,
        what,
        detail,
      };
    case 'dead':
      return {
        action: 'alert.dead',
        outcome: 'failure',
        reasonCode: 'alert.attempts-exhausted',
        who,
        what,
        detail,
      };
  }
}
