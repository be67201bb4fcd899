/** Alert events: what a later alerts module delivers (webhooks, pages); written in the transaction that caused it. */
import type { AlertKind, AlertSeverity } from '../alerts/alert-kinds.js';
import type { Selectable, Transaction } from 'kysely';
import type { Db } from './database.js';
import type { AlertEventsTable, Database } from './schema.js';

export type AlertEventRow = Selectable<AlertEventsTable>;

export async function insertAlertEvent(
  tx: Transaction<Database>,
  alert: {
    kind: AlertKind;
    severity: AlertSeverity;
    requestId: string | undefined;
    principalId: string | undefined;
    detail: Readonly<Record<string, unknown>>;
    createdAt: Date;
  },
): Promise<void> {
  await tx
    .insertInto('alert_events')
    .values({
      kind: alert.kind,
      severity: alert.severity,
      request_id: alert.requestId ?? null,
      principal_id: alert.principalId ?? null,
      detail: JSON.stringify(alert.detail),
      created_at: alert.createdAt,
    })
    .execute();
}

export async function listAlertEvents(db: Db, requestId: string): Promise<AlertEventRow[]> {
  return db.selectFrom('alert_events').selectAll().where('request_id', '=', requestId).execute();
}
