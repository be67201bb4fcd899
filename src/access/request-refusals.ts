/**
 * How a policy's "no" becomes an API refusal, and what a malformed request is recorded as. Pure.
 */
import { PhigateError } from '../lib/errors.js';
import type { Decision, Reason } from '../policy/types.js';
import type { NewRequest } from './types.js';

/** Refusal codes that mean "not yours to do" rather than "malformed". */
const FORBIDDEN_REASON =
  /not-eligible|mfa|forbidden|not-allowed|self|emergency|hours|outside-care-relation|no-care-relation|person\.unknown/;
/** Refusal codes that mean "phigate could not find out", not "no": worth trying again later. */
const UNAVAILABLE_REASON = /care-relation-unknown/;

export function decisionRefusal(decision: Extract<Decision, { outcome: 'deny' }>): PhigateError {
  const first: Reason = decision.reasons[0] ?? {
    code: 'policy.denied',
    message: 'the policy refuses this request',
  };
  const kind = FORBIDDEN_REASON.test(first.code)
    ? 'forbidden'
    : UNAVAILABLE_REASON.test(first.code)
      ? 'unavailable'
      : 'invalid';
  return new PhigateError(kind, first.code, first.message, {
    ...first.details,
    reasons: decision.reasons,
  });
}

/** What a malformed request looked like, for the audit record: shapes and lengths, not content. */
export function describeInput(input: NewRequest): Record<string, unknown> {
  if (typeof input !== 'object' || input === null) return { type: typeof input };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input as unknown as Record<string, unknown>).slice(0, 20)) {
    const key = k.slice(0, 40);
    out[key] =
      typeof v === 'string'
        ? k === 'resource' || k === 'role' || k === 'purpose' || k === 'duration'
          ? v.slice(0, 100)
          : { length: v.length }
        : Array.isArray(v)
          ? { items: v.length }
          : typeof v;
  }
  return out;
}
