/**
 * Verifies OIDC access tokens (Bearer JWTs) against the configured issuers and turns them into Principals.
 *
 * The token's unverified `iss` only chooses which issuer's keys to try; everything is then verified: signature with
 * a key from that issuer's JWKS and an algorithm from its pinned list, exact `iss`, exact `aud`, `exp` required,
 * `nbf` honoured, both within the configured clock skew, and `typ: at+jwt` so that ID tokens are not accepted as
 * access tokens. Header-supplied keys (`jku`, `x5u`, `jwk`, `x5c`) are refused before any key lookup.
 */
import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import { durationMs } from '../config/load.js';
import type { IssuerConfig } from '../config/schema.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { isPhigateError, PhigateError } from '../lib/errors.js';
import { createIssuerKeys, type IssuerKeys } from './issuer-keys.js';
import { isSecureOrLoopback } from './loopback.js';
import type { Principal } from './principal.js';
import { principalFromClaims } from './principal-claims.js';
import { tokenError } from './token-errors.js';

export interface TokenVerifierOptions {
  readonly issuers: readonly IssuerConfig[];
  /** `identity.personClaims`: claims that name the human behind an account, read from every issuer's tokens. */
  readonly personClaims?: readonly string[];
  /** Used for discovery and JWKS downloads (tests and proxies); defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Time for `exp`/`nbf` checks. The JWKS cache and cooldown follow the system clock (jose's own). */
  readonly clock?: Clock;
  readonly logger?: { warn(obj: object, msg: string): void };
}

export interface TokenVerifier {
  /** Resolves to the caller's Principal or rejects with a PhigateError carrying a `token.*` code. */
  verify(bearerToken: string): Promise<Principal>;
}

/** Far above any real access token; refuses giant headers before we parse them. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const HEADER_KEY_PARAMETERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;
const MAX_FAILURE_BACKOFF_MS = 5_000;

interface IssuerEntry {
  readonly config: IssuerConfig;
  /** How this issuer's claims become a Principal (its own settings, and the person claims every issuer shares). */
  readonly claims: Parameters<typeof principalFromClaims>[0];
  readonly keys: IssuerKeys;
  readonly verifyOptions: Parameters<typeof jwtVerify>[2] & object;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const clock = options.clock ?? systemClock;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const byIssuer = new Map<string, IssuerEntry>();
  const personClaims = Object.freeze([...(options.personClaims ?? [])]);
  for (const config of options.issuers) {
    const url = new URL(config.issuer);
    if (!isSecureOrLoopback(url)) {
      throw new PhigateError(
        'invalid',
        'config.identity.insecure-issuer',
        `issuer ${config.issuer} must use https (plain http is allowed on loopback only)`,
      );
    }
    if (byIssuer.has(config.issuer)) {
      throw new PhigateError(
        'invalid',
        'config.identity.duplicate-issuer',
        `issuer ${config.issuer} is listed twice`,
      );
    }
    const cooldown = durationMs(config.jwksCooldown);
    byIssuer.set(config.issuer, {
      config,
      claims: { ...config, personClaims },
      keys: createIssuerKeys({
        issuer: config.issuer,
        jwksCooldownMs: cooldown,
        failureBackoffMs: Math.min(cooldown, MAX_FAILURE_BACKOFF_MS),
        fetch: fetchImpl,
        logger: options.logger,
      }),
      verifyOptions: {
        algorithms: [...config.algorithms],
        issuer: config.issuer,
        audience: config.audience,
        clockTolerance: Math.floor(durationMs(config.clockSkew) / 1000),
        requiredClaims: ['exp', 'sub'],
        ...(config.accessTokenType === 'at+jwt' ? { typ: 'at+jwt' } : {}),
      },
    });
  }

  return {
    async verify(bearerToken) {
      if (typeof bearerToken !== 'string' || bearerToken.length === 0) {
        throw tokenError('token.missing', 'a bearer token is required');
      }
      if (bearerToken.length > MAX_TOKEN_LENGTH) throw tokenError('token.malformed', 'the token is too long');

      let header: ProtectedHeaderParameters;
      let unverified: JWTPayload;
      try {
        header = decodeProtectedHeader(bearerToken);
        unverified = decodeJwt(bearerToken);
      } catch (err) {
        throw tokenError('token.malformed', 'the token is not a signed JWT', err);
      }
      if (HEADER_KEY_PARAMETERS.some((p) => Object.hasOwn(header, p))) {
        throw tokenError(
          'token.header-key-refused',
          'tokens that carry or point at their own key are refused',
        );
      }
      const alg = header.alg;
      if (typeof alg !== 'string' || alg === 'none' || alg.startsWith('HS')) {
        throw tokenError('token.alg-refused', 'unsigned and HMAC tokens are refused');
      }
      const entry = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
      if (!entry) throw tokenError('token.unknown-issuer', 'the token issuer is not trusted');
      if (!entry.config.algorithms.includes(alg as IssuerConfig['algorithms'][number])) {
        throw tokenError('token.alg-refused', `algorithm ${alg} is not accepted for this issuer`);
      }

      try {
        const { payload } = await jwtVerify(bearerToken, entry.keys.getKey, {
          ...entry.verifyOptions,
          currentDate: clock.now(),
        });
        if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
          throw tokenError('token.subject-missing', 'the token has no subject');
        }
        return principalFromClaims(entry.claims, payload as JWTPayload & { sub: string; exp: number });
      } catch (err) {
        throw isPhigateError(err) ? err : mapJoseError(err);
      }
    },
  };
}

function mapJoseError(err: unknown): PhigateError {
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return tokenError('token.bad-signature', 'the token signature is invalid');
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return tokenError('token.alg-refused', 'algorithm not accepted');
  if (err instanceof errors.JWTExpired) return tokenError('token.expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    // A claim of the wrong type (`exp: "tomorrow"`) is malformed, not missing or early.
    if (err.claim === 'exp' && err.reason === 'missing') {
      return tokenError('token.exp-missing', 'the token has no expiry');
    }
    if (err.claim === 'nbf' && err.reason === 'check_failed') {
      return tokenError('token.not-yet-valid', 'the token is not valid yet');
    }
    switch (err.claim) {
      case 'iss':
        return tokenError('token.wrong-issuer', 'the token issuer does not match');
      case 'aud':
        return tokenError('token.wrong-audience', 'the token is not meant for this API');
      case 'typ':
        return tokenError('token.wrong-type', 'an access token (typ at+jwt) is required');
      case 'sub':
        return tokenError('token.subject-missing', 'the token has no subject');
    }
  }
  return tokenError('token.malformed', 'the token is not a valid JWT', err);
}
