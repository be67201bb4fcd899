/**
 * One error model for the whole of phigate. Domain code throws `PhigateError` with a stable, documented `code`;
 * the HTTP layer maps `kind` to a status and renders RFC 9457 problem details, the CLI maps it to an exit code, and
 * the gateway to a PostgreSQL ErrorResponse. Anything that is not a PhigateError is reported without detail.
 */
export type ErrorKind =
  | 'invalid' // the caller's input is wrong (400/422)
  | 'unauthenticated' // no or bad credentials (401)
  | 'forbidden' // authenticated, but this is not theirs to do (403)
  | 'not-found' // unknown, or outside the caller's scope (404: never confirm existence)
  | 'conflict' // the state does not allow it (409)
  | 'too-large' // body or field over its limit (413)
  | 'rate-limited' // slow down (429)
  | 'unavailable'; // a dependency (the store, the audit log) is down: fail closed (503)

export class PhigateError extends Error {
  override readonly name = 'PhigateError';
  constructor(
    readonly kind: ErrorKind,
    /** Stable machine-readable code, e.g. `request.not-found`; part of the API contract. */
    readonly code: string,
    message: string,
    /** Extra machine-readable facts (limits, field names); never secrets or PHI. */
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isPhigateError = (e: unknown): e is PhigateError => e instanceof PhigateError;

/** The HTTP status each kind maps to; idempotency records store it, the API sends it. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'rate-limited': 429,
  unavailable: 503,
});
