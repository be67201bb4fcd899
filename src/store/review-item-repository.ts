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
