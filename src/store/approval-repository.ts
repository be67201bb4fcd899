/**
 * Approvals and denials given on requests. One row per (request, account); the access service also allows only one
 * per person (linked accounts, see access/people.ts), under the request's row lock.
 */
import type { Insertable, Selectable, Transaction } from 'kysely';
import type { Db } from './database.js';
import type { ApprovalsTable, Database } from './schema.js';

export type ApprovalRow = Selectable<ApprovalsTable>;

export async function insertApproval(
  tx: Transaction<Database>,
  row: Insertable<ApprovalsTable>,
): Promise<void> {
  await tx.insertInto('approvals').values(row).execute();
}

export async function findApproval(
  db: Db,
  requestId: string,
  approverId: string,
): Promise<ApprovalRow | undefined> {
  return db
    .selectFrom('approvals')
    .selectAll()
    .where('request_id', '=', requestId)
    .where('approver_id', '=', approverId)
    .executeTakeFirst();
}

export async function listApprovals(db: Db, requestIds: readonly string[]): Promise<ApprovalRow[]> {
  if (requestIds.length === 0) return [];
  return db
    .selectFrom('approvals')
    .selectAll()
    .where('request_id', 'in', [...requestIds])
    .orderBy('created_at')
    .orderBy('approver_id')
    .execute();
}
