/**
 * Stable reason codes for refused bearer tokens. They are part of the API contract (401 problem details carry them)
 * and are documented in docs/identity.md; add codes, never rename them.
 */
import { PhigateError } from '../lib/errors.js';

export const TOKEN_ERROR_CODES = [
  'token.missing',
  'token.malformed',
  'token.alg-refused',
  'token.header-key-refused',
  'token.unknown-issuer',
  'token.unknown-key',
  'token.bad-signature',
  'token.exp-missing',
  'token.expired',
  'token.not-yet-valid',
  'token.wrong-issuer',
  'token.wrong-audience',
  'token.wrong-type',
  'token.subject-missing',
  'token.issuer-unavailable',
] as const;

export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];

/**
 * Every refusal is `unauthenticated` (401) except an unreachable issuer: that is our dependency failing, not the
 * caller's credential, so it is `unavailable` (503) and a client keeps its token and retries instead of logging in again.
 */
export function tokenError(code: TokenErrorCode, message: string, cause?: unknown): PhigateError {
  const kind = code === 'token.issuer-unavailable' ? 'unavailable' : 'unauthenticated';
  return new PhigateError(kind, code, message, {}, cause === undefined ? undefined : { cause });
}
