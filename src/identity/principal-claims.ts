/**
 * Maps a verified claims set to a Principal. Pure: the token has already been checked; this only reads claims,
 * and reads them strictly, because group names decide access: a claim of the wrong shape yields nothing rather
 * than a guess (a string is never split into groups).
 */
import type { JWTPayload } from 'jose';
import type { IssuerConfig } from '../config/schema.js';
import { personClaimValue } from './person.js';
import { principalId, type MfaEvidence, type Principal } from './principal.js';

type ClaimsConfig = Pick<IssuerConfig, 'issuer' | 'nameClaim' | 'groupsClaim' | 'mfa'> & {
  /** `identity.personClaims`: claims naming the human behind the account (the same for every trusted issuer). */
  readonly personClaims?: readonly string[];
};

/** Bounds what one token can make us hold per request. */
const MAX_GROUPS = 1_000;

function stringArray(value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length > MAX_GROUPS) return [];
  return value.every((v) => typeof v === 'string') ? Object.freeze([...value]) : [];
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The configured person claims present with a usable value (a claim of another shape is left out, not guessed). */
function personClaimsOf(names: readonly string[], claims: JWTPayload): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = Object.hasOwn(claims, name) ? personClaimValue(claims[name]) : undefined;
    if (value !== undefined) out[name] = value;
  }
  return Object.freeze(out);
}

export function mfaEvidence(config: Pick<IssuerConfig, 'mfa'>, claims: JWTPayload): MfaEvidence {
  const amr = stringArray(claims['amr']);
  const acr = nonEmptyString(claims['acr']);
  const satisfied =
    amr.some((v) => config.mfa.amr.includes(v)) || (acr !== undefined && config.mfa.acr.includes(acr));
  return Object.freeze({ satisfied, amr, acr });
}

/** `claims.sub` and `claims.exp` must already be known to be present (the verifier requires them). */
export function principalFromClaims(
  config: ClaimsConfig,
  claims: JWTPayload & { sub: string; exp: number },
): Principal {
  return Object.freeze({
    id: principalId(config.issuer, claims.sub),
    issuer: config.issuer,
    subject: claims.sub,
    displayName:
      nonEmptyString(claims[config.nameClaim]) ?? nonEmptyString(claims['preferred_username']) ?? claims.sub,
    email: nonEmptyString(claims['email']),
    emailVerified: claims['email_verified'] === true,
    personClaims: personClaimsOf(config.personClaims ?? [], claims),
    groups: stringArray(claims[config.groupsClaim]),
    mfa: mfaEvidence(config, claims),
    tokenId: nonEmptyString(claims.jti),
    tokenExpiresAt: new Date(claims.exp * 1000),
  });
}
