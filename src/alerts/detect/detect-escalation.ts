/**
 * Escalation: a request for a role the person never held, or one more privileged (by the configured ranks) than any
 * they held; a role requested again soon after it was denied; an approval given within seconds of the request; and
 * the same approver approving the same requester again and again (rubber-stamping). Comparisons with the person's
 * history wait for the learning period; the others need none.
 */
import { raiseForRequest, type DetectContext, type EventInput } from './detect-context.js';
import type { PersonState, RequestState } from './engine-state.js';

/** Denials remembered per person: enough to see a re-request, bounded. */
const MAX_DENIALS = 8;
/** Requesters remembered per approver for rubber-stamping; the least recent is dropped beyond. */
const MAX_APPROVED_REQUESTERS = 200;

function rankOf(ctx: DetectContext, role: string): number {
  return ctx.config.escalation.roleRanks[role] ?? 0;
}

/** A new request: never-held or more privileged role, or a re-request after a denial. */
export function onRequestCreated(ctx: DetectContext, ev: EventInput, id: string, req: RequestState): void {
  const person = ctx.person(req.requester);
  const held = Object.keys(person.held);
  if (!ctx.learning && !req.emergency && held.length > 0 && person.held[req.role] === undefined) {
    const usualMaxRank = Math.max(...held.map((role) => rankOf(ctx, role)));
    const rank = rankOf(ctx, req.role);
    const common = { requestId: id, role: req.role, resource: req.resource, rolesHeld: held };
    if (rank > usualMaxRank) {
      ctx.raise({
        kind: 'escalation.privileged-role',
        subject: req.requester,
        at: ctx.now,
        seq: ev.seq,
        key: id,
        evidence: { ...common, rank, usualMaxRank },
      });
    } else {
      ctx.raise({
        kind: 'escalation.new-role',
        subject: req.requester,
        at: ctx.now,
        seq: ev.seq,
        key: id,
        evidence: common,
      });
    }
  }
  reRequest(ctx, ev, id, req, person);
}

function reRequest(
  ctx: DetectContext,
  ev: EventInput,
  id: string,
  req: RequestState,
  person: PersonState,
): void {
  const window = ctx.config.escalation.reRequestWindow;
  person.denials = person.denials.filter((d) => ctx.now - d.at <= window);
  const index = person.denials.findIndex((d) => d.role === req.role);
  if (index < 0) return;
  const denial = person.denials[index]!;
  person.denials.splice(index, 1);
  raiseForRequest(ctx, 'escalation.re-request', ev, id, req, {
    deniedRequestId: denial.requestId,
    deniedSeq: denial.seq,
    secondsSinceDenial: Math.round((ctx.now - denial.at) / 1000),
  });
}

export function onRequestDenied(ctx: DetectContext, ev: EventInput, id: string, req: RequestState): void {
  const person = ctx.person(req.requester);
  person.denials.push({ role: req.role, requestId: id, seq: ev.seq, at: ctx.now });
  while (person.denials.length > MAX_DENIALS) person.denials.shift();
}

/** An approval: how fast, and how often this approver approved this requester lately. */
export function onRequestApproved(ctx: DetectContext, ev: EventInput, id: string, req: RequestState): void {
  const approver = ev.record.who.actor;
  const seconds = (ctx.now - req.createdAt) / 1000;
  if (seconds * 1000 < ctx.config.escalation.fastApproval) {
    ctx.raise({
      kind: 'escalation.fast-approval',
      subject: approver,
      at: ctx.now,
      seq: ev.seq,
      key: `${id}:${approver}`,
      evidence: {
        requestId: id,
        role: req.role,
        approver,
        requester: req.requester,
        secondsToApprove: Math.round(seconds * 10) / 10,
      },
    });
  }
  rubberStamp(ctx, ev, id, req, approver);
}

function rubberStamp(
  ctx: DetectContext,
  ev: EventInput,
  id: string,
  req: RequestState,
  approver: string,
): void {
  const { rubberStampCount: count, rubberStampWindow: window } = ctx.config.escalation;
  const person = ctx.person(approver);
  const times = (person.approvals[req.requester] ?? []).filter((t) => ctx.now - t <= window);
  times.push(ctx.now);
  delete person.approvals[req.requester];
  if (times.length < count) {
    person.approvals[req.requester] = times; // re-inserted last: key order is recency order
    const keys = Object.keys(person.approvals);
    if (keys.length > MAX_APPROVED_REQUESTERS) delete person.approvals[keys[0]!];
    return;
  }
  ctx.raise({
    kind: 'escalation.rubber-stamp',
    subject: approver,
    at: ctx.now,
    seq: ev.seq,
    key: `${approver}:${req.requester}:${ev.seq}`,
    evidence: {
      approver,
      requester: req.requester,
      approvals: times.length,
      windowSeconds: Math.round(window / 1000),
      requestId: id,
    },
  });
}
