/**
 * The signing keys of one configured issuer: its discovery document, then its JWKS through jose's remote key set.
 * Both are fetched lazily and cached. Every network call goes through one gate that remembers failures, so an
 * unreachable or misbehaving issuer costs at most one request per back-off window, however many tokens arrive
 * (ATTACKS 39: refetch storms). Unknown `kid`s refresh the JWKS at most once per `jwksCooldown` (jose's cooldown).
 */
import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from 'jose';
import { isPhigateError } from '../lib/errors.js';
import { isLoopbackHost } from './loopback.js';
import { tokenError } from './token-errors.js';

export interface IssuerKeysOptions {
  /** The configured issuer, compared byte for byte with the discovery document's `issuer`. */
  readonly issuer: string;
  readonly jwksCooldownMs: number;
  /** After a failed fetch, further fetches wait this long (the caller gets `token.issuer-unavailable`). */
  readonly failureBackoffMs: number;
  readonly fetch: typeof fetch;
  readonly logger?: { warn(obj: object, msg: string): void } | undefined;
}

export interface IssuerKeys {
  /** Key resolver for jose's `jwtVerify`; throws PhigateError for unknown keys and unavailable issuers. */
  readonly getKey: JWTVerifyGetKey;
}

const FETCH_TIMEOUT_MS = 5_000;
const MAX_DISCOVERY_BYTES = 256 * 1024;

/** Thrown by the fetch gate itself, so the resolver can tell "issuer down" from "no such key". */
class IssuerUnreachable extends Error {}

export function createIssuerKeys(options: IssuerKeysOptions): IssuerKeys {
  const { issuer, logger } = options;
  let failedAt: number | undefined;
  let keySet: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  const gatedFetch = async (url: string, init: RequestInit): Promise<Response> => {
    if (failedAt !== undefined && Date.now() - failedAt < options.failureBackoffMs) {
      throw new IssuerUnreachable('issuer failed recently; waiting before the next attempt');
    }
    try {
      const response = await options.fetch(url, { ...init, redirect: 'manual' });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new IssuerUnreachable(`HTTP ${response.status} from ${url}`);
      }
      failedAt = undefined;
      return response;
    } catch (err) {
      failedAt = Date.now();
      logger?.warn({ issuer, url, err: String(err) }, 'identity provider fetch failed');
      throw err instanceof IssuerUnreachable ? err : new IssuerUnreachable(String(err), { cause: err });
    }
  };

  const discover = async (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await gatedFetch(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    const text = await response.text();
    const fail = (why: string): never => {
      failedAt = Date.now();
      logger?.warn({ issuer, url }, `discovery document refused: ${why}`);
      throw new IssuerUnreachable(why);
    };
    if (text.length > MAX_DISCOVERY_BYTES) fail('document too large');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      fail('not JSON');
    }
    if (typeof doc !== 'object' || doc === null) return fail('not a JSON object');
    const { issuer: named, jwks_uri: jwksUri } = doc as Record<string, unknown>;
    // Mix-up defence (RFC 8414 §3.3): the document must speak for exactly the issuer we were configured with.
    if (named !== issuer) fail(`it names issuer ${JSON.stringify(named)}`);
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) return fail('jwks_uri missing or not a URL');
    const jwks = new URL(jwksUri);
    // An http issuer was already confined to loopback by the verifier; its keys may then come from loopback too.
    const issuerIsHttp = new URL(issuer).protocol === 'http:';
    const allowed =
      jwks.protocol === 'https:' ||
      (issuerIsHttp && jwks.protocol === 'http:' && isLoopbackHost(jwks.hostname));
    if (!allowed) fail('jwks_uri must be https');
    return createRemoteJWKSet(jwks, {
      cooldownDuration: options.jwksCooldownMs,
      timeoutDuration: FETCH_TIMEOUT_MS,
      [customFetch]: gatedFetch,
    });
  };

  const remote = (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (!keySet) {
      // One in-flight discovery for all callers; a failure is forgotten so a later call retries (behind the gate).
      keySet = discover().catch((err: unknown) => {
        keySet = undefined;
        throw err;
      });
    }
    return keySet;
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      const jwks = await remote();
      try {
        return await jwks(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
          // jose matches `alg` against a key's own `alg`; tell "pinned to another algorithm" apart from "no such key".
          const named = typeof header.kid === 'string' && jwks.jwks()?.keys.some((k) => k.kid === header.kid);
          throw named
            ? tokenError('token.alg-refused', 'the signing key is pinned to a different algorithm')
            : tokenError('token.unknown-key', 'no key of the issuer matches the token');
        }
        throw err;
      }
    } catch (err) {
      if (isPhigateError(err)) throw err;
      throw tokenError('token.issuer-unavailable', 'the token issuer cannot be reached', err);
    }
  };

  return { getKey };
}
