/**
 * The authenticated person behind a request: an OIDC subject at an issuer. `id` is the one unique user id
 * (45 CFR 164.312(a)(2)(i)) used everywhere phigate records who did something.
 */
export interface MfaEvidence {
  /** True when the token's `amr`/`acr` show a multi-factor login accepted by the issuer's configuration. */
  readonly satisfied: boolean;
  readonly amr: readonly string[];
  readonly acr: string | undefined;
}

export interface Principal {
  /** `issuer#subject`: unique across issuers, stable across display-name and e-mail changes. */
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly displayName: string;
  readonly email: string | undefined;
  /** The issuer asserted that the e-mail address is the person's (`email_verified: true`). */
  readonly emailVerified?: boolean;
  /**
   * The configured person claims (`identity.personClaims`) the token carried, by claim name: with a verified e-mail,
   * what links this account to other accounts of the same human (see person.ts).
   */
  readonly personClaims?: Readonly<Record<string, string>>;
  /** Group names from the configured claim; the policy maps them to job functions. */
  readonly groups: readonly string[];
  readonly mfa: MfaEvidence;
  /** The token's `jti`, recorded in audit events ("how"), never the token itself. */
  readonly tokenId: string | undefined;
  readonly tokenExpiresAt: Date;
}

export function principalId(issuer: string, subject: string): string {
  return `${issuer}#${subject}`;
}

/**
 * The issuer and subject of a `principalId`, split at the first '#': an OIDC issuer URL has no fragment, a subject
 * may contain '#'. Undefined for an id that is not of that form.
 */
export function splitPrincipalId(id: string): { issuer: string; subject: string } | undefined {
  const hash = id.indexOf('#');
  return hash > 0 ? { issuer: id.slice(0, hash), subject: id.slice(hash + 1) } : undefined;
}
