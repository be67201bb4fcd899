/**
 * Damage to the audit log — the stored events differ from what was appended and signed (appended-tree.ts) — as the
 * rest of phigate sees it: a stable problem code for callers (`audit.damaged`, never an internal error) and a
 * critical alert event for whoever watches alerts.
 */
import { PhigateError } from '../lib/errors.js';
import { insertAlertEvent } from '../store/alert-event-repository.js';
import type { Db } from '../store/database.js';
import { AuditLogDamaged } from './appended-tree.js';

/** Damage found while signing is answered with its stable problem code, never as an internal error. */
export async function asDamage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof AuditLogDamaged)) throw err;
    throw new PhigateError(
      'unavailable',
      'audit.damaged',
      `the audit log as stored differs from what was appended and signed: ${err.message}`,
      err.seq === undefined ? {} : { seq: err.seq },
      { cause: err },
    );
  }
}

export async function raiseDamageAlert(db: Db, damage: AuditLogDamaged, at: Date): Promise<void> {
  await db.transaction().execute((tx) =>
    insertAlertEvent(tx, {
      kind: 'audit.damaged',
      severity: 'critical',
      requestId: undefined,
      principalId: undefined,
      detail: { seq: damage.seq, reason: damage.message },
      createdAt: at,
    }),
  );
}
