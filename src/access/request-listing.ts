/**
 * Listing requests and grants: one's own, those one may approve (policy logic, so candidates are scanned in bounded
 * pages and filtered), or all of them for auditors and administrators. Keyset pagination with opaque cursors.
 */
import type { AuditEventInput } from '../audit/event.js';
import type { Principal } from '../identity/principal.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import { listRequests } from '../store/access-request-repository.js';
import { listApprovals } from '../store/approval-repository.js';
import type { Db } from '../store/database.js';
import type { AccessAudit } from './access-audit.js';
import type { AccessRequest } from './grant.js';
import { checkApprover, type PolicyPair } from './approver-checks.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { People } from './people.js';
import type { PolicyRegistry } from './policy-registry.js';
import { toRequestView } from './request-view.js';
import { REQUEST_STATUSES } from './state-machine.js';
import type { AccessRequestView, ListFilter, Page, RequestStatus } from './types.js';

export const LIST_LIMITS = Object.freeze({ default: 50, max: 200, approvableScan: 2_000 });

export interface RequestListingDeps {
  readonly audit: AccessAudit;
  readonly db: Db;
  readonly clock: Clock;
  readonly policies: Pick<PolicyRegistry, 'current'>;
  readonly recordRefusal: (event: AuditEventInput) => Promise<void>;
  readonly pairFor: (row: AccessRequest) => Promise<PolicyPair>;
  readonly people: Pick<People, 'of' | 'requesterOf'>;
}

export interface RequestListing {
  readonly list: (
    p: Principal,
    filter: ListFilter | undefined,
    allowed: readonly RequestStatus[],
  ) => Promise<Page<AccessRequestView>>;
}

export function createRequestListing(deps: RequestListingDeps): RequestListing {
  const { db, clock, policies, recordRefusal, pairFor, people } = deps;
  const isOverseer = (p: Principal): boolean => {
    const policy = policies.current();
    return policy.isAdmin(p) || policy.isAuditor(p);
  };

  const list = async (
    p: Principal,
    filter: ListFilter | undefined,
    allowed: readonly RequestStatus[],
  ): Promise<Page<AccessRequestView>> => {
    const scope = filter?.scope ?? 'mine';
    const limit = filter?.limit ?? LIST_LIMITS.default;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMITS.max) {
      throw new PhigateError('invalid', 'list.limit-invalid', `limit must be 1 to ${LIST_LIMITS.max}`, {
        max: LIST_LIMITS.max,
      });
    }
    const unknown = (filter?.status ?? []).filter((s) => !REQUEST_STATUSES.includes(s));
    if (unknown.length > 0) {
      throw new PhigateError('invalid', 'list.status-invalid', 'unknown status in filter', {
        allowed: REQUEST_STATUSES,
      });
    }
    const statuses = filter?.status ? allowed.filter((s) => filter.status!.includes(s)) : allowed;
    const after = filter?.cursor !== undefined ? decodeCursor(filter.cursor) : undefined;
    if (scope === 'all' && !isOverseer(p)) {
      await recordRefusal(
        deps.audit.event(p, undefined, {
          action: 'request.list',
          outcome: 'refused',
          reasonCode: 'list.scope-forbidden',
          detail: { scope },
        }),
      );
      throw new PhigateError(
        'forbidden',
        'list.scope-forbidden',
        'only auditors and administrators list everything',
      );
    }
    if (scope !== 'approvable') {
      const rows = await listRequests(db, {
        requesterId: scope === 'mine' ? p.id : undefined,
        statuses: statuses.length === allowed.length && allowed === REQUEST_STATUSES ? undefined : statuses,
        after,
        limit: limit + 1,
      });
      return page(rows.slice(0, limit), rows.length > limit);
    }
    // Which requests a person may approve is policy logic, not SQL: scan pages of candidates and filter.
    const now = clock.now();
    const person = people.of(p);
    const approvableStatuses = filter?.status ? statuses : statuses.filter((s) => s === 'pending');
    const found: AccessRequest[] = [];
    let cursor = after;
    let scanned = 0;
    for (;;) {
      const batch = await listRequests(db, {
        excludeRequesterId: p.id,
        statuses: approvableStatuses,
        after: cursor,
        limit: Math.max(limit * 2, 50),
      });
      for (const row of batch) {
        scanned++;
        cursor = { createdAt: row.createdAt, id: row.id };
        const requester = people.requesterOf(row);
        if (checkApprover(person, requester, row, await pairFor(row), now, { ignoreSignIn: true }).ok) {
          found.push(row);
          if (found.length === limit) return page(found, true);
        }
      }
      if (batch.length < Math.max(limit * 2, 50)) return page(found, false);
      if (scanned >= LIST_LIMITS.approvableScan) {
        // Bounded work per call: hand back what we have and where to go on.
        const views = await viewsOf(found);
        return { items: views, nextCursor: cursor ? encodeCursor(cursor) : undefined };
      }
    }
  };

  const viewsOf = async (rows: readonly AccessRequest[]): Promise<AccessRequestView[]> => {
    const approvals = await listApprovals(
      db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toRequestView(r, approvals));
  };

  const page = async (rows: readonly AccessRequest[], more: boolean): Promise<Page<AccessRequestView>> => {
    const last = rows.at(-1);
    return {
      items: await viewsOf(rows),
      nextCursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : undefined,
    };
  };

  return { list };
}
