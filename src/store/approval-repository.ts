/**
 * Approvals and denials given on requests. One row per (request, account); the access service also allows only one
 * per person (linked accounts, see access/people.ts), under the request's row lock. Rows are mapped to the access
 * module's `Approval` here, once.
 */
import type { Selectable, Transaction } from 'kysely';
import type { Approval, PersonSnapshot } from '../access/grant.js';
import type { Db } from './database.js';
import type { ApprovalsTable, Database } from './schema.js';

function toApproval(row: Selectable<ApprovalsTable>): Approval {
  return {
    requestId: row.request_id,
    approverId: row.approver_id,
    approver: row.approver as PersonSnapshot,
    approverPersonKeys: row.approver_person_keys ?? undefined,
    verdict: row.verdict,
    scopeHash: row.scope_hash,
    policyHash: row.policy_hash,
    comment: row.comment ?? undefined,
    createdAt: row.created_at,
  };
}

export async function insertApproval(tx: Transaction<Database>, a: Approval): Promise<void> {
  await tx
    .insertInto('approvals')
    .values({
      request_id: a.requestId,
      approver_id: a.approverId,
      approver: JSON.stringify(a.approver),
      approver_person_keys: a.approverPersonKeys === undefined ? undefined : [...a.approverPersonKeys],
      verdict: a.verdict,
      scope_hash: a.scopeHash,
      policy_hash: a.policyHash,
      comment: a.comment ?? null,
      created_at: a.createdAt,
    })
    .execute();
}

export async function findApproval(
  db: Db,
  requestId: string,
  approverId: string,
): Promise<Approval | undefined> {
  const row = await db
    .selectFrom('approvals')
    .selectAll()
    .where('request_id', '=', requestId)
    .where('approver_id', '=', approverId)
    .executeTakeFirst();
  return row === undefined ? undefined : toApproval(row);
}

export async function listApprovals(db: Db, requestIds: readonly string[]): Promise<Approval[]> {
  if (requestIds.length === 0) return [];
  const rows = await db
    .selectFrom('approvals')
    .selectAll()
    .where('request_id', 'in', [...requestIds])
    .orderBy('created_at')
    .orderBy('approver_id')
    .execute();
  return rows.map(toApproval);
}
