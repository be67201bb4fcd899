/**
 * Following the audit log (`phigate audit tail -f`). Every read of the log is itself recorded, but a follower that
 * polled with ordinary queries recorded each poll: a quiet log then filled with its own reads (about 1,800 events an
 * hour per follower). A follow is one query that lasts: recorded once when it starts and once when it ends (with how
 * many events it returned); the polls in between are not new queries.
 */
import type { Principal } from '../identity/principal.js';
import type { Db } from '../store/database.js';
import type { PatientToken, StoredAuditEvent } from './event.js';
import { queryEvents, type EventFilter } from './event-query.js';

export interface EventFollow {
  /** Events appended after the last ones returned (the first call: the latest `backlog` of them), oldest first. */
  next(limit: number): Promise<StoredAuditEvent[]>;
  /** Records the end of the follow; idempotent. */
  end(): Promise<void>;
}

export interface FollowDeps {
  readonly db: Db;
  readonly patientToken: (patient: string) => string;
  readonly requireAuditor: (p: Principal) => Promise<void>;
  readonly record: (
    p: Principal,
    detail: Record<string, unknown>,
    patients: readonly PatientToken[],
  ) => Promise<unknown>;
}

export type FollowFilter = Pick<EventFilter, 'actor' | 'resource' | 'action'> & {
  readonly patient?: string | undefined;
};

export async function startEventFollow(
  deps: FollowDeps,
  p: Principal,
  query: FollowFilter,
  backlog: number,
): Promise<EventFollow> {
  await deps.requireAuditor(p);
  const { patient, ...rest } = query;
  const token = patient === undefined ? undefined : deps.patientToken(patient);
  const filter: EventFilter = { ...rest, ...(token ? { patientToken: token } : {}) };
  const patients = token ? [token as PatientToken] : [];
  const described = { actor: filter.actor, resource: filter.resource, action: filter.action };
  await deps.record(p, { filter: described, follow: 'started' }, patients);

  // Start from the log's head, so that polls never rescan what came before (even when nothing matches the filter).
  const [head] = await queryEvents(deps.db, { order: 'desc', limit: 1 });
  let cursor = head?.seq ?? 0;
  let pendingBacklog =
    backlog > 0 ? (await queryEvents(deps.db, { ...filter, order: 'desc', limit: backlog })).reverse() : [];
  let returned = 0;
  let ended = false;
  return {
    async next(limit) {
      if (ended) return [];
      let events: StoredAuditEvent[];
      if (pendingBacklog.length > 0) {
        events = pendingBacklog;
        pendingBacklog = [];
      } else {
        events = await queryEvents(deps.db, { ...filter, cursor, order: 'asc', limit });
        cursor = events.at(-1)?.seq ?? cursor;
      }
      returned += events.length;
      return events;
    },
    async end() {
      if (ended) return;
      ended = true;
      await deps.record(p, { filter: described, follow: 'ended', returned }, patients);
    },
  };
}
