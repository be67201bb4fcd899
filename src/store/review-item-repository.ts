/** Review items: after-the-fact checks a person must close (every break-glass access opens one). */
import { randomUUID } from 'node:crypto';
import type { Selectable, Transaction } from 'kysely';
import type { Db } from './database.js';
import type { Database, ReviewItemsTable } from './schema.js';

export type ReviewItemRow = Selectable<ReviewItemsTable>;

export async function openReviewItem(
  tx: Transaction<Database>,
  item: { requestId: string; kind: string; openedAt: Date },
): Promise<string> {
  const id = randomUUID();
  await tx
    .insertInto('review_items')
    .values({ id, request_id: item.requestId, kind: item.kind, status: 'open', opened_at: item.openedAt })
    .execute();
  return id;
}

export async function listReviewItems(db: Db, requestId: string): Promise<ReviewItemRow[]> {
  return db.selectFrom('review_items').selectAll().where('request_id', '=', requestId).execute();
}

/**
 * Closes the request's open review item of `kind`, if there is one; undefined when none is open (never opened, or
 * closed already). The caller holds the request's row lock, so two reviewers cannot both close it.
 */
export async function closeReviewItem(
  tx: Transaction<Database>,
  close: {
    requestId: string;
    kind: string;
    closedAt: Date;
    closedBy: string;
    outcome: string;
    notes: string | null;
  },
): Promise<ReviewItemRow | undefined> {
  return tx
    .updateTable('review_items')
    .set({
      status: 'closed',
      closed_at: close.closedAt,
      closed_by: close.closedBy,
      outcome: close.outcome,
      notes: close.notes,
    })
    .where('request_id', '=', close.requestId)
    .where('kind', '=', close.kind)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
}
