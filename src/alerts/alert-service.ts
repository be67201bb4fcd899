/**
 * Alerts for auditors (the privacy office, security operations): the alerts with their delivery state per channel,
 * and the replay of dead letters. Auditors only; every read, replay and refusal is an audit event.
 */
import { whoOf } from '../audit/audit-who.js';
import type { AuditAction } from '../audit/actions.js';
import type { AuditEventInput } from '../audit/event.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import type { Db } from '../store/database.js';
import {
  findAlert,
  listAlertsWithDeliveries,
  redeliverDead,
  type AlertWithDeliveries,
  type DeliveryStatus,
} from '../store/alert-delivery-repository.js';
import { alertMessage } from './alert-message.js';

export interface AlertView {
  readonly id: number;
  readonly kind: string;
  readonly severity: string;
  readonly title: string;
  readonly raisedAt: string;
  readonly requestId?: string | undefined;
  readonly evidence: Readonly<Record<string, string | number | boolean>>;
  readonly routedAt?: string | undefined;
  readonly deliveries: readonly {
    readonly channel: string;
    readonly status: DeliveryStatus;
    readonly attempts: number;
    readonly nextAttemptAt?: string | undefined;
    readonly lastAttemptAt?: string | undefined;
    readonly deliveredAt?: string | undefined;
    readonly lastError?: string | undefined;
  }[];
}

export interface AlertQuery {
  readonly limit: number;
  readonly before?: number | undefined;
  readonly status?: DeliveryStatus | undefined;
}

export interface AlertService {
  list(p: Principal, query: AlertQuery): Promise<AlertView[]>;
  /** Makes the alert's dead deliveries (of `channel`, or all) due again; returns the channels replayed. */
  redeliver(p: Principal, alertId: number, channel?: string): Promise<string[]>;
}

export interface AlertServiceOptions {
  readonly db: Db;
  readonly audit: { append(events: readonly AuditEventInput[]): Promise<number[]> };
  readonly isAuditor: (p: Principal) => boolean;
  readonly clock: Clock;
  readonly publicUrl: string;
  /** Wakes this replica's delivery worker (others are woken by NOTIFY). */
  readonly wake?: (() => void) | undefined;
}

export function createAlertService(options: AlertServiceOptions): AlertService {
  const { db, clock } = options;
  const record = (p: Principal, event: Omit<AuditEventInput, 'who' | 'how'>) =>
    options.audit.append([{ ...event, who: whoOf(p), how: { tokenId: p.tokenId } }]);

  const requireAuditor = async (p: Principal, action: AuditAction): Promise<void> => {
    if (options.isAuditor(p)) return;
    await record(p, { action, outcome: 'refused', reasonCode: 'alert.auditors-only' });
    throw new PhigateError('forbidden', 'alert.auditors-only', 'only auditors may read and replay alerts');
  };

  return {
    async list(p, query) {
      await requireAuditor(p, 'alert.list');
      const alerts = await listAlertsWithDeliveries(db, {
        limit: query.limit,
        beforeId: query.before,
        status: query.status,
      });
      await record(p, {
        action: 'alert.list',
        outcome: 'success',
        detail: { limit: query.limit, before: query.before, status: query.status, count: alerts.length },
      });
      return alerts.map((a) => view(a, options.publicUrl));
    },

    async redeliver(p, alertId, channel) {
      await requireAuditor(p, 'alert.redeliver');
      const alert = Number.isSafeInteger(alertId) && alertId > 0 ? await findAlert(db, alertId) : undefined;
      if (alert === undefined) {
        await record(p, {
          action: 'alert.redeliver',
          outcome: 'refused',
          reasonCode: 'alert.not-found',
          detail: { alertId },
        });
        throw new PhigateError('not-found', 'alert.not-found', `there is no alert ${alertId}`, { alertId });
      }
      const channels = await redeliverDead(db, alertId, channel, clock.now());
      const what = alert.requestId !== null ? { requestId: alert.requestId } : undefined;
      if (channels.length === 0) {
        await record(p, {
          action: 'alert.redeliver',
          outcome: 'refused',
          reasonCode: 'alert.not-dead',
          what,
          detail: { alertId, channel },
        });
        throw new PhigateError(
          'conflict',
          'alert.not-dead',
          `alert ${alertId} has no dead delivery${channel !== undefined ? ` to ${channel}` : ''} to replay`,
          { alertId },
        );
      }
      await record(p, {
        action: 'alert.redeliver',
        outcome: 'success',
        what,
        detail: { alertId, kind: alert.kind, severity: alert.severity, channels },
      });
      options.wake?.();
      return channels;
    },
  };
}

function view(a: AlertWithDeliveries, publicUrl: string): AlertView {
  const m = alertMessage(a, publicUrl);
  return {
    id: a.id,
    kind: a.kind,
    severity: a.severity,
    title: m.title,
    raisedAt: m.raisedAt,
    requestId: m.requestId,
    evidence: m.evidence,
    routedAt: a.routedAt?.toISOString(),
    deliveries: a.deliveries.map((d) => ({
      channel: d.channel,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: d.nextAttemptAt?.toISOString(),
      lastAttemptAt: d.lastAttemptAt?.toISOString(),
      deliveredAt: d.deliveredAt?.toISOString(),
      lastError: d.lastError ?? undefined,
    })),
  };
}
