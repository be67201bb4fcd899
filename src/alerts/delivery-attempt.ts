/**
 * One attempt of one claimed delivery, and its outcome: first the audit event, then the outbox row (a delivery is
 * never marked delivered or dead without its record; a crash between the two repeats the attempt, not the silence).
 * An attempt interrupted by shutdown has no known outcome: its claim is given back, uncounted.
 */
import { performance } from 'node:perf_hooks';
import type { AuditEventInput } from '../audit/event.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Db } from '../store/database.js';
import {
  recordDelivered,
  recordFailed,
  releaseClaim,
  type ClaimedDelivery,
} from '../store/alert-delivery-repository.js';
import { alertMessage } from './alert-message.js';
import { nextAttemptAt, type BackoffBounds } from './backoff.js';
import { describeFailure, type AlertChannel } from './channel.js';

export type DeliveryOutcome = 'delivered' | 'retry' | 'dead';

export interface DeliveryTiming {
  readonly attemptMs: number;
  /** From the alert's raising to this outcome. */
  readonly sinceRaisedMs: number;
}

export interface AttemptContext {
  readonly db: Db;
  readonly audit: { append(events: readonly AuditEventInput[]): Promise<number[]> };
  readonly clock: Clock;
  readonly logger: Pick<Logger, 'warn'>;
  readonly publicUrl: string;
  readonly maxAttempts: number;
  readonly backoff: BackoffBounds;
  readonly attemptTimeoutMs: number;
  readonly random?: (() => number) | undefined;
  readonly onOutcome?:
    ((channel: string, outcome: DeliveryOutcome, timing: DeliveryTiming) => void) | undefined;
}

export async function runAttempt(
  c: AttemptContext,
  channel: AlertChannel,
  d: ClaimedDelivery,
  claimId: string,
  stopSignal: AbortSignal,
): Promise<void> {
  const held = { alertId: d.alert.id, channel: d.channel, claimId };
  const signal = AbortSignal.any([stopSignal, AbortSignal.timeout(c.attemptTimeoutMs)]);
  const started = performance.now();
  let failure: string | undefined;
  try {
    if (stopSignal.aborted) throw new Error('stopping');
    await channel.deliver(alertMessage(d.alert, c.publicUrl), signal);
  } catch (err) {
    failure = describeFailure(err, signal);
  }
  const attemptMs = performance.now() - started;
  if (stopSignal.aborted) {
    // Another worker, or this one restarted, repeats it.
    await releaseClaim(c.db, held, c.clock.now());
    return;
  }
  const now = c.clock.now();
  const retryAt =
    failure === undefined ? undefined : nextAttemptAt(d.attempt, c.maxAttempts, now, c.backoff, c.random);
  const outcome: DeliveryOutcome =
    failure === undefined ? 'delivered' : retryAt !== undefined ? 'retry' : 'dead';
  await c.audit.append([auditEvent(d, channel, outcome, failure, retryAt)]);
  const recorded =
    failure === undefined
      ? await recordDelivered(c.db, held, now)
      : await recordFailed(c.db, held, { error: failure, retryAt, at: now });
  if (!recorded)
    c.logger.warn({ alertId: d.alert.id, channel: d.channel }, 'an alert delivery outlived its claim');
  if (outcome !== 'delivered') {
    c.logger.warn(
      { alertId: d.alert.id, channel: d.channel, attempt: d.attempt, error: failure, retryAt },
      outcome === 'dead' ? 'alert delivery gave up (dead letter)' : 'alert delivery failed; will retry',
    );
  }
  c.onOutcome?.(d.channel, outcome, {
    attemptMs,
    sinceRaisedMs: now.getTime() - d.alert.createdAt.getTime(),
  });
}

const REASONS: Readonly<Record<DeliveryOutcome, string | undefined>> = {
  delivered: undefined,
  retry: 'alert.delivery-failed',
  dead: 'alert.attempts-exhausted',
};

function auditEvent(
  d: ClaimedDelivery,
  channel: AlertChannel,
  outcome: DeliveryOutcome,
  failure: string | undefined,
  retryAt: Date | undefined,
): AuditEventInput {
  return {
    // Each name written out, so that the audit vocabulary's source scan (audit/actions.test.ts) sees it emitted.
    action: outcome === 'delivered' ? 'alert.delivered' : outcome === 'retry' ? 'alert.retry' : 'alert.dead',
    outcome: outcome === 'delivered' ? 'success' : 'failure',
    reasonCode: REASONS[outcome],
    who: { actor: 'system' },
    what: d.alert.requestId !== null ? { requestId: d.alert.requestId } : undefined,
    detail: {
      alertId: d.alert.id,
      kind: d.alert.kind,
      severity: d.alert.severity,
      channel: channel.name,
      channelType: channel.type,
      attempt: d.attempt,
      ...(failure !== undefined ? { error: failure } : {}),
      ...(retryAt !== undefined ? { retryAt: retryAt.toISOString() } : {}),
    },
  };
}
