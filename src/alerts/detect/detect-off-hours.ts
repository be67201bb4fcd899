/**
 * Off-hours use of a role the person normally uses in business hours: judged when a grant starts, and again at its
 * first statement outside hours (a grant taken at five and used at midnight). "Normally in hours" is learnt per
 * person and role — at least `minGrants` grants, at most `maxOffHoursShare` of them outside hours — or configured
 * (`inHoursRoles`). Night-shift staff whose role is used at night are therefore not alerted on. Break-glass grants
 * are left to the break-glass alert.
 */
import { raiseForRequest, type DetectContext, type EventInput } from './detect-context.js';
import type { RequestState } from './engine-state.js';
import { habitOf } from './habits.js';

function usedInHours(
  ctx: DetectContext,
  req: RequestState,
): { inHours: number; offHours: number } | undefined {
  const c = ctx.config.offHours;
  if (ctx.learning || req.emergency || c.exemptRoles.includes(req.role)) return undefined;
  const habit = habitOf(ctx.person(req.requester), req.role);
  const total = habit.inHours + habit.offHours;
  const configured = c.inHoursRoles.includes(req.role);
  const learnt = total >= c.minGrants && habit.offHours <= c.maxOffHoursShare * total;
  return configured || learnt ? { inHours: habit.inHours, offHours: habit.offHours } : undefined;
}

function raiseOffHours(ctx: DetectContext, ev: EventInput, id: string, req: RequestState): void {
  const habit = usedInHours(ctx, req);
  req.offHoursRaised = true;
  if (habit === undefined) return;
  raiseForRequest(ctx, 'off-hours', ev, id, req, {
    action: ev.record.action,
    localTime: ctx.hours.localTime(ctx.now),
    inHoursGrants: habit.inHours,
    offHoursGrants: habit.offHours,
  });
}

/** A grant starts: judge it, then count it in the habit. */
export function onGrantActivated(ctx: DetectContext, ev: EventInput, id: string, req: RequestState): void {
  if (req.emergency) return;
  const inHours = ctx.hours.inHours(ctx.now);
  if (!inHours) raiseOffHours(ctx, ev, id, req);
  const habit = habitOf(ctx.person(req.requester), req.role);
  if (inHours) habit.inHours++;
  else habit.offHours++;
}

/** A statement of a grant not yet judged off-hours. */
export function onGrantUsed(ctx: DetectContext, ev: EventInput, id: string, req: RequestState): void {
  if (req.offHoursRaised || req.emergency || ctx.hours.inHours(ctx.now)) return;
  raiseOffHours(ctx, ev, id, req);
}
