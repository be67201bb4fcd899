/**
 * Break-glass: every emergency activation is a critical alert, and opens a review that must be closed
 * (`review.close`) within `breakGlass.reviewDue`; one still open when that passes raises an overdue alert.
 * Overdue reviews are found as log time passes (each event, or the engine's `advance`), never by a wall clock:
 * replaying the log raises the same alerts.
 */
import { raiseForRequest, type DetectContext, type EventInput } from './detect-context.js';
import type { RequestState } from './engine-state.js';
import { detailNumber } from './event-facts.js';

export function onEmergencyActivation(
  ctx: DetectContext,
  ev: EventInput,
  id: string,
  req: RequestState,
): void {
  const r = ev.record;
  raiseForRequest(ctx, 'break-glass', ev, id, req, {
    purpose: r.why?.purposeOfUse,
    patientCount: detailNumber(r, 'patientCount') ?? r.what?.patients?.length ?? 0,
  });
  ctx.state.reviews[id] = {
    subject: req.requester,
    role: req.role,
    resource: req.resource,
    activatedAt: ctx.now,
    activationSeq: ev.seq,
    dueAt: ctx.now + ctx.config.breakGlass.reviewDue,
  };
}

export function onReviewClosed(ctx: DetectContext, ev: EventInput): void {
  const id = ev.record.what?.requestId;
  if (id !== undefined && ev.record.outcome === 'success') delete ctx.state.reviews[id];
}

/** Raises every review whose deadline has passed by `now`, once. */
export function raiseOverdueReviews(ctx: DetectContext): void {
  for (const [id, review] of Object.entries(ctx.state.reviews)) {
    if (review.dueAt > ctx.now) continue;
    delete ctx.state.reviews[id];
    ctx.raise({
      kind: 'break-glass.review-overdue',
      subject: review.subject,
      at: review.dueAt,
      key: id,
      evidence: {
        requestId: id,
        role: review.role,
        resource: review.resource,
        activatedAt: new Date(review.activatedAt).toISOString(),
        dueAt: new Date(review.dueAt).toISOString(),
        activationSeq: review.activationSeq,
      },
    });
  }
}
