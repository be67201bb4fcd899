/**
 * `phigate login`: the OAuth 2.0 device authorization grant (RFC 8628) through openid-client. The CLI shows a code
 * and a URL, the person signs in with a browser anywhere, and the CLI receives an access token for the API. No
 * password or client secret ever touches the terminal (the CLI is a public client).
 */
import * as oidc from 'openid-client';
import { PhigateError } from '../lib/errors.js';
import { isSecureOrLoopback } from './loopback.js';

export interface DeviceLoginOptions {
  /** Issuer URL; its discovery document is fetched and must name exactly this issuer. */
  readonly issuer: string;
  readonly clientId: string;
  /** Default `openid`. */
  readonly scope?: string;
  /** RFC 8707 resource indicator: asks the issuer for a token whose `aud` is the API. */
  readonly resource?: string;
  /** Same intent for issuers that use the non-standard `audience` parameter (Auth0 and others). */
  readonly audience?: string;
  /** Tell the person where to go; called once, before polling starts. */
  onPrompt(verificationUri: string, userCode: string, verificationUriComplete: string | undefined): void;
  readonly fetch?: typeof fetch;
  /** Cancels waiting (Ctrl-C); the device code's own lifetime bounds the wait in any case. */
  readonly signal?: AbortSignal;
}

export interface DeviceLoginResult {
  readonly issuer: string;
  readonly accessToken: string;
  readonly tokenType: string;
  /** From `expires_in`; undefined when the issuer did not say. */
  readonly expiresAt: Date | undefined;
  readonly scope: string | undefined;
}

export async function deviceLogin(options: DeviceLoginOptions): Promise<DeviceLoginResult> {
  const issuerUrl = new URL(options.issuer);
  if (!isSecureOrLoopback(issuerUrl)) {
    throw new PhigateError(
      'invalid',
      'login.insecure-issuer',
      `refusing to log in over plain http to ${issuerUrl.host}: use https (http is allowed on loopback only)`,
    );
  }
  const insecureLoopback = issuerUrl.protocol === 'http:';
  try {
    const config = await oidc.discovery(issuerUrl, options.clientId, undefined, oidc.None(), {
      ...(insecureLoopback ? { execute: [oidc.allowInsecureRequests] } : {}),
      ...(options.fetch ? { [oidc.customFetch]: options.fetch as oidc.CustomFetch } : {}),
    });
    const parameters: Record<string, string> = { scope: options.scope ?? 'openid' };
    if (options.resource !== undefined) parameters['resource'] = options.resource;
    if (options.audience !== undefined) parameters['audience'] = options.audience;
    const authorization = await oidc.initiateDeviceAuthorization(config, parameters);
    options.onPrompt(
      authorization.verification_uri,
      authorization.user_code,
      authorization.verification_uri_complete,
    );
    // openid-client drops its own "device code expired" timeout when given a signal: keep both.
    const expiry = AbortSignal.timeout(authorization.expires_in * 1000);
    const signal = options.signal ? AbortSignal.any([options.signal, expiry]) : expiry;
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, authorization, undefined, { signal });
    const expiresIn = tokens.expiresIn();
    return {
      issuer: config.serverMetadata().issuer,
      accessToken: tokens.access_token,
      tokenType: tokens.token_type,
      expiresAt: expiresIn === undefined ? undefined : new Date(Date.now() + expiresIn * 1000),
      scope: tokens.scope,
    };
  } catch (err) {
    throw loginError(err, options.signal);
  }
}

function loginError(err: unknown, signal: AbortSignal | undefined): PhigateError {
  if (err instanceof PhigateError) return err;
  if (signal?.aborted)
    return new PhigateError('unauthenticated', 'login.aborted', 'login cancelled', {}, { cause: err });
  if (err instanceof oidc.ResponseBodyError) {
    if (err.error === 'access_denied') {
      return new PhigateError(
        'unauthenticated',
        'login.denied',
        'the sign-in was declined',
        {},
        { cause: err },
      );
    }
    if (err.error === 'expired_token') {
      return new PhigateError(
        'unauthenticated',
        'login.expired',
        'the code expired before sign-in; try again',
        {},
        {
          cause: err,
        },
      );
    }
    return new PhigateError(
      'unauthenticated',
      'login.failed',
      `the issuer refused the login: ${err.error}`,
      {},
      {
        cause: err,
      },
    );
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new PhigateError(
      'unauthenticated',
      'login.expired',
      'the code expired before sign-in; try again',
      {},
      {
        cause: err,
      },
    );
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new PhigateError('unavailable', 'login.failed', `login failed: ${detail}`, {}, { cause: err });
}
