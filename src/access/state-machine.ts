/**
 * The request/grant lifecycle as one table. Every status change goes through `transition` — by way of the lifecycle
 * (lifecycle.ts), the only writer of a status — so what is legal is decided in exactly one place; the store then
 * applies it with a conditional update (`where status = from`).
 *
 *   pending ── activate ──▶ active ── expire ──▶ expired
 *      │                      └────── revoke ──▶ revoked
 *      ├── deny ──▶ denied
 *      ├── cancel ──▶ cancelled
 *      └── time-out ──▶ timed-out
 */
import type { RequestStatus } from './types.js';

export type LifecycleEvent =
  /** An approval was recorded but the requirement is not met yet: the request stays pending. */
  'approve' | 'activate' | 'deny' | 'cancel' | 'time-out' | 'expire' | 'revoke';

export const LIFECYCLE_EVENTS: readonly LifecycleEvent[] = Object.freeze([
  'approve',
  'activate',
  'deny',
  'cancel',
  'time-out',
  'expire',
  'revoke',
]);

export const REQUEST_STATUSES: readonly RequestStatus[] = Object.freeze([
  'pending',
  'active',
  'expired',
  'revoked',
  'denied',
  'cancelled',
  'timed-out',
]);

const TRANSITIONS: Readonly<Record<RequestStatus, Partial<Readonly<Record<LifecycleEvent, RequestStatus>>>>> =
  Object.freeze({
    pending: {
      approve: 'pending',
      activate: 'active',
      deny: 'denied',
      cancel: 'cancelled',
      'time-out': 'timed-out',
    },
    active: { expire: 'expired', revoke: 'revoked' },
    expired: {},
    revoked: {},
    denied: {},
    cancelled: {},
    'timed-out': {},
  });

/** Which status an event needs, for the refusal code: events on requests vs. events on grants. */
const REQUIRED: Readonly<Record<LifecycleEvent, 'pending' | 'active'>> = Object.freeze({
  approve: 'pending',
  activate: 'pending',
  deny: 'pending',
  cancel: 'pending',
  'time-out': 'pending',
  expire: 'active',
  revoke: 'active',
});

export type TransitionResult =
  | { readonly ok: true; readonly from: RequestStatus; readonly to: RequestStatus }
  | {
      readonly ok: false;
      readonly from: RequestStatus;
      readonly event: LifecycleEvent;
      /** Stable refusal code: `request.not-pending` or `grant.not-active`. */
      readonly code: 'request.not-pending' | 'grant.not-active';
      readonly message: string;
    };

export function transition(from: RequestStatus, event: LifecycleEvent): TransitionResult {
  const to = TRANSITIONS[from][event];
  if (to !== undefined) return { ok: true, from, to };
  const required = REQUIRED[event];
  return required === 'pending'
    ? {
        ok: false,
        from,
        event,
        code: 'request.not-pending',
        message: `the request is ${from}; only a pending request can be ${pastTense(event)}`,
      }
    : {
        ok: false,
        from,
        event,
        code: 'grant.not-active',
        message: `the grant is ${from}; only an active grant can be ${pastTense(event)}`,
      };
}

export function isTerminal(status: RequestStatus): boolean {
  return Object.keys(TRANSITIONS[status]).length === 0;
}

/** Statuses of requests that became grants. */
export const GRANT_STATUSES: readonly RequestStatus[] = Object.freeze(['active', 'expired', 'revoked']);

function pastTense(event: LifecycleEvent): string {
  switch (event) {
    case 'approve':
      return 'approved';
    case 'activate':
      return 'activated';
    case 'deny':
      return 'denied';
    case 'cancel':
      return 'cancelled';
    case 'time-out':
      return 'timed out';
    case 'expire':
      return 'expired';
    case 'revoke':
      return 'revoked';
  }
}
