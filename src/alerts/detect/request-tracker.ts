/**
 * Requests and grants in flight, as the log tells them: created (pending or, auto-approved and break-glass, active
 * at once), activated, ended. Detectors need a request's requester and role at its approval or denial (those events
 * name the approver), and a grant's running volume. An engine that starts mid-log meets grants it never saw created:
 * they are taken from the event itself (the grantee is the actor of gateway events).
 */
import type { AuditRecord } from '../../audit/event.js';
import type { DetectContext } from './detect-context.js';
import { emptyBucket, type RequestState } from './engine-state.js';
import { roleOf } from './event-facts.js';

/** An ended grant's entry stays this long for events that arrive after its end (a session's last completions). */
export const ENDED_RETENTION_MS = 3_600_000;
/** An entry untouched this long is dropped (a pending request has long timed out; a grant has long ended). */
export const STALE_REQUEST_MS = 31 * 24 * 3_600_000;

export function newRequest(r: AuditRecord, requester: string, now: number): RequestState | undefined {
  const role = roleOf(r);
  const resource = r.what?.resource;
  if (role === undefined || resource === undefined) return undefined;
  return {
    requester,
    role,
    resource,
    createdAt: now,
    status: 'pending',
    emergency: r.why?.emergency === true,
    lastAt: now,
    volume: emptyBucket(),
    offHoursRaised: false,
    patientAlerts: [],
  };
}

/** The request an event is about; created from the event when the engine never saw it begin (`adopt`). */
export function trackedRequest(ctx: DetectContext, r: AuditRecord, adopt: boolean): RequestState | undefined {
  const id = r.what?.requestId;
  if (id === undefined) return undefined;
  let req = ctx.state.requests[id];
  if (req === undefined && adopt && r.who.actor !== 'system' && r.who.actor !== 'anonymous') {
    req = newRequest(r, r.who.actor, ctx.now);
    if (req === undefined) return undefined;
    req.status = 'active';
    ctx.state.requests[id] = req;
  }
  if (req !== undefined) req.lastAt = ctx.now;
  return req;
}

/** Drops ended entries after their grace and entries nobody touched for a month. */
export function sweepRequests(ctx: DetectContext): void {
  for (const [id, req] of Object.entries(ctx.state.requests)) {
    const endedLongAgo = req.status === 'ended' && ctx.now - req.lastAt > ENDED_RETENTION_MS;
    if (endedLongAgo || ctx.now - req.lastAt > STALE_REQUEST_MS) delete ctx.state.requests[id];
  }
}
