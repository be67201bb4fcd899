/**
 * What a lifecycle event sets on a request, besides its status: pure, so that the lifecycle (lifecycle.ts) writes
 * exactly what the state machine allows and nothing decides a status or an end reason anywhere else.
 */
import type { SystemEndReason } from './end-reasons.js';
import type { AccessRequest, StatusPatch } from './grant.js';
import { transition, type LifecycleEvent, type TransitionResult } from './state-machine.js';

/** Who made a change: a person (their account id), or phigate itself with the reason it had. */
export type Actor =
  | { readonly kind: 'person'; readonly id: string }
  | { readonly kind: 'system'; readonly reason?: SystemEndReason };

export const SYSTEM: Actor = Object.freeze({ kind: 'system' });

export function person(id: string): Actor {
  return { kind: 'person', id };
}

/** What a request's end is recorded as when nobody said why (a person's revocation may give a reason). */
const DEFAULT_END_REASON: Readonly<Partial<Record<LifecycleEvent, string>>> = Object.freeze({
  deny: 'denied',
  cancel: 'cancelled',
  'time-out': 'timed-out',
  expire: 'expired',
  revoke: 'revoked',
});

export type PlannedChange = Extract<TransitionResult, { ok: true }> & { readonly patch: StatusPatch };

/**
 * The change `event` makes to a request in status `from` at `at`: the state machine's verdict and, when legal, the
 * fields to write. `reason` is a person's own words for a revocation; a system actor's reason wins.
 */
export function planChange(
  request: Pick<AccessRequest, 'status' | 'durationMs'>,
  event: LifecycleEvent,
  at: Date,
  by: Actor,
  reason?: string,
): PlannedChange | Extract<TransitionResult, { ok: false }> {
  const t = transition(request.status, event);
  if (!t.ok) return t;
  const endedBy = by.kind === 'person' ? by.id : 'system';
  const endReason = (by.kind === 'system' ? by.reason : undefined) ?? reason ?? DEFAULT_END_REASON[event];
  const ending = { endedAt: at, endReason: endReason ?? event, endedBy };
  switch (event) {
    case 'approve':
      return { ...t, patch: { status: t.to } };
    case 'activate':
      return {
        ...t,
        patch: {
          status: t.to,
          decidedAt: at,
          activatedAt: at,
          expiresAt: new Date(at.getTime() + request.durationMs),
        },
      };
    case 'deny':
    case 'time-out':
      return { ...t, patch: { status: t.to, decidedAt: at, ...ending } };
    case 'cancel':
    case 'expire':
    case 'revoke':
      return { ...t, patch: { status: t.to, ...ending } };
  }
}
