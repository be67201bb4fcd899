/**
 * Which detectors look at which event. Request and grant events move the request tracker and feed escalation,
 * off-hours and break-glass; gateway events feed volume, bulk export and patients; refusals feed probing.
 * Roles and resources the configuration ignores skip every detector but break-glass.
 */
import type { AuditRecord } from '../../audit/event.js';
import type { DetectContext, EventInput } from './detect-context.js';
import { onEmergencyActivation, onReviewClosed } from './detect-break-glass.js';
import { onRequestApproved, onRequestCreated, onRequestDenied } from './detect-escalation.js';
import { onGrantActivated, onGrantUsed } from './detect-off-hours.js';
import { onPatients } from './detect-patients.js';
import { onProbe } from './detect-probing.js';
import { onBulk, onGrantEnded, onVolume } from './detect-volume.js';
import type { RequestState } from './engine-state.js';
import { completedResults, executedStatements, patientTokensOf } from './event-facts.js';
import { newRequest, trackedRequest } from './request-tracker.js';

function ignored(ctx: DetectContext, req: RequestState): boolean {
  return ctx.config.ignoreRoles.includes(req.role) || ctx.config.ignoreResources.includes(req.resource);
}

export function dispatch(ctx: DetectContext, ev: EventInput): void {
  const r = ev.record;
  onProbe(ctx, ev);
  if (r.outcome === 'refused' && r.action !== 'statement.execute' && r.action !== 'statement.batch') return;
  switch (r.action) {
    case 'request.create':
      return created(ctx, ev, r);
    case 'grant.activate':
      return activated(ctx, ev, r);
    case 'request.approve':
    case 'request.deny':
      return decided(ctx, ev, r);
    case 'request.cancel':
    case 'request.timeout':
    case 'grant.expire':
    case 'grant.revoke':
      return ended(ctx, r);
    case 'review.close':
      return onReviewClosed(ctx, ev);
    case 'statement.execute':
    case 'statement.batch':
    case 'statement.complete':
      return statements(ctx, ev, r);
    default:
      return;
  }
}

function created(ctx: DetectContext, ev: EventInput, r: AuditRecord): void {
  const id = r.what?.requestId;
  if (id === undefined || ctx.state.requests[id] !== undefined) return;
  const req = newRequest(r, r.who.actor, ctx.now);
  if (req === undefined) return;
  ctx.state.requests[id] = req;
  if (ignored(ctx, req)) return;
  onRequestCreated(ctx, ev, id, req);
  onPatients(ctx, ev, id, req, r.what?.patients ?? []);
}

function activated(ctx: DetectContext, ev: EventInput, r: AuditRecord): void {
  const id = r.what?.requestId;
  if (id === undefined) return;
  const known = ctx.state.requests[id];
  // Already active or ended: a second activation record of one grant is not a second grant.
  if (known !== undefined && known.status !== 'pending') return;
  // A grant whose creation came before this engine's log is adopted from its activation.
  const req = known ?? trackedRequest(ctx, r, true);
  if (req === undefined) return;
  req.status = 'active';
  req.lastAt = ctx.now;
  req.emergency ||= r.why?.emergency === true;
  // Break-glass is not a role one "holds" as a habit: it must not make every later role look less privileged.
  if (!req.emergency) ctx.person(req.requester).held[req.role] = ctx.now;
  if (req.emergency) onEmergencyActivation(ctx, ev, id, req);
  if (ignored(ctx, req)) return;
  onGrantActivated(ctx, ev, id, req);
  onPatients(ctx, ev, id, req, r.what?.patients ?? []);
}

function decided(ctx: DetectContext, ev: EventInput, r: AuditRecord): void {
  const id = r.what?.requestId;
  const req = trackedRequest(ctx, r, false);
  if (id === undefined || req === undefined || ignored(ctx, req)) return;
  if (r.action === 'request.deny') {
    req.status = 'ended';
    onRequestDenied(ctx, ev, id, req);
  } else onRequestApproved(ctx, ev, id, req);
}

function ended(ctx: DetectContext, r: AuditRecord): void {
  const req = trackedRequest(ctx, r, false);
  if (req === undefined || req.status === 'ended') return;
  const wasActive = req.status === 'active';
  req.status = 'ended';
  if (wasActive && !ignored(ctx, req)) onGrantEnded(ctx, req);
}

function statements(ctx: DetectContext, ev: EventInput, r: AuditRecord): void {
  const id = r.what?.requestId;
  const req = trackedRequest(ctx, r, true);
  if (id === undefined || req === undefined || ignored(ctx, req)) return;
  const patients = patientTokensOf(r);
  onPatients(ctx, ev, id, req, patients);
  if (r.action === 'statement.complete') {
    const results = completedResults(r);
    let rows = 0;
    for (const x of results) rows += x.rows;
    onVolume(ctx, ev, id, req, { statements: 0, rows, patients });
    onBulk(ctx, ev, id, req, [], results);
    return;
  }
  const executed = executedStatements(r);
  if (executed.executed === 0) return;
  onGrantUsed(ctx, ev, id, req);
  onVolume(ctx, ev, id, req, { statements: executed.executed, rows: 0, patients: [] });
  onBulk(ctx, ev, id, req, executed.copies, []);
}
