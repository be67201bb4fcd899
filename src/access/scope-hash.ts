/**
 * The hash an approval is bound to (ATTACKS 14): SHA-256 over a canonical encoding of exactly what was asked for.
 * If any part of the scope changes after an approval was given (a row edited in the store, a bug), the request's
 * hash no longer matches the approval's and the approval stops counting.
 *
 * Canonical form: a JSON array in a fixed order with a version tag, so field order, object key order and JSON
 * whitespace cannot make two encodings of one scope (or one encoding of two scopes). Patient ids are sorted and
 * de-duplicated because the same set asked in another order is the same scope. Strings are hashed as given (no
 * Unicode normalisation): "exact" means byte-exact.
 */
import { createHash } from 'node:crypto';

export interface Scope {
  readonly requesterId: string;
  readonly resource: string;
  readonly role: string;
  readonly durationMs: number;
  readonly purpose: string;
  readonly patientIds: readonly string[];
  readonly ticket: string | undefined;
}

const VERSION = 'phigate.scope.v1';

export function canonicalPatientIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

export function canonicalScope(scope: Scope): string {
  return JSON.stringify([
    VERSION,
    scope.requesterId,
    scope.resource,
    scope.role,
    scope.durationMs,
    scope.purpose,
    canonicalPatientIds(scope.patientIds),
    scope.ticket ?? null,
  ]);
}

export function scopeHash(scope: Scope): string {
  return createHash('sha256').update(canonicalScope(scope), 'utf8').digest('hex');
}
