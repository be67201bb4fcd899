/**
 * A built-in OIDC issuer for the demo ONLY: discovery, JWKS, the device authorization grant (RFC 8628) and a page
 * where a person types the code from their terminal and picks a demo user. There are no passwords: anyone who can
 * reach the page can sign in as anyone, which is why it exists only when dev mode is asked for and says so loudly.
 *
 * It issues what a real issuer would (ES256 JWT access tokens, `typ: at+jwt`, RFC 9068 claims), so the API verifies
 * them through the very same verifier, discovery and JWKS path as production tokens.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { SignJWT } from 'jose';
import { issuerSchema, type IssuerConfig } from '../config/schema.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import { demoEmail, DEMO_USERS, findDemoUser } from './demo-users.js';
import { loadOrCreateDevIssuerKey } from './dev-issuer-key.js';
import { signedInPage, PAGE_HEADERS, verificationPage } from './dev-issuer-pages.js';
import { createDeviceCodeStore } from './device-codes.js';

export const DEV_ISSUER_WARNING =
  'development issuer enabled: anyone can sign in as a demo user; never use in production';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const DEFAULT_TTL_SECONDS = 3600;

export interface DevIssuerOptions {
  /** Public base URL of the server that mounts the plugin, e.g. `http://127.0.0.1:8740`. */
  readonly baseUrl: string;
  /** Where the signing key is kept (`dev-issuer-key.json`, mode 0600). */
  readonly dataDir: string;
  /** `aud` of the tokens: the API's expected audience. */
  readonly audience: string;
  readonly logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Mount point under baseUrl; default `/dev-oidc`. */
  readonly prefix?: string;
  /** Client id the CLI uses; default `phigate-cli` (the config's default `cliClientId`). */
  readonly clientId?: string;
  /** Seconds between device-flow polls the CLI is told to wait; default 1 (a demo should feel quick). */
  readonly pollIntervalSeconds?: number;
  readonly clock?: Clock;
}

export interface DevIssuer {
  /** The exact `iss` of its tokens: `${baseUrl}${prefix}`. */
  readonly issuer: string;
  readonly prefix: string;
  /** Register with `app.register(devIssuer.plugin, { prefix: devIssuer.prefix })` on the root instance. */
  readonly plugin: FastifyPluginAsync;
  /** Trusts this issuer; add it to the verifier's issuers. */
  readonly issuerConfig: IssuerConfig;
  /** Signs an access token for a demo user without the device flow (scripts and tests). */
  mintToken(username: string, options?: { readonly ttlSeconds?: number }): Promise<string>;
}

export async function createDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const prefix = options.prefix ?? '/dev-oidc';
  if (!/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/.test(prefix))
    throw new Error(`invalid dev issuer prefix ${prefix}`);
  const issuer = `${options.baseUrl.replace(/\/+$/, '')}${prefix}`;
  const clientId = options.clientId ?? 'phigate-cli';
  const clock = options.clock ?? systemClock;
  const { logger, audience } = options;
  const key = await loadOrCreateDevIssuerKey(options.dataDir, logger);
  const devices = createDeviceCodeStore({
    clock,
    ttlSeconds: 600,
    intervalSeconds: options.pollIntervalSeconds ?? 1,
    maxPending: 1000,
  });
  logger.warn({ issuer, users: DEMO_USERS.map((u) => u.username) }, DEV_ISSUER_WARNING);

  const issuerConfig = issuerSchema.parse({
    issuer,
    audience,
    algorithms: ['ES256'],
    mfa: { amr: ['otp', 'mfa'], acr: [] },
    // The issuer and the verifier live in one process; a short cooldown keeps restarts of either painless.
    jwksCooldown: '5s',
    cliClientId: clientId,
  });

  const mintToken = async (username: string, mint?: { readonly ttlSeconds?: number }): Promise<string> => {
    const user = findDemoUser(username);
    if (!user) throw new PhigateError('invalid', 'dev-issuer.unknown-user', `no demo user named ${username}`);
    const iat = Math.floor(clock.now().getTime() / 1000);
    return new SignJWT({
      client_id: clientId,
      scope: 'openid',
      name: user.name,
      preferred_username: user.username,
      email: demoEmail(user),
      email_verified: true,
      groups: [...user.groups],
      amr: user.mfa ? ['pwd', 'otp'] : ['pwd'],
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
      .setIssuer(issuer)
      .setSubject(user.username)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + (mint?.ttlSeconds ?? DEFAULT_TTL_SECONDS))
      .setJti(randomUUID())
      .sign(key.privateKey);
  };

  const plugin: FastifyPluginAsync = (app) => {
    // Encapsulated to this plugin: the rest of the API keeps accepting JSON only.
    if (app.hasContentTypeParser('application/x-www-form-urlencoded')) {
      app.removeContentTypeParser('application/x-www-form-urlencoded');
    }
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 8 * 1024 },
      (_req, body, done) => done(null, new URLSearchParams(body as string)),
    );
    const field = (body: unknown, name: string): string =>
      body instanceof URLSearchParams ? (body.get(name) ?? '') : '';
    // Handlers return bodies (never the reply) so that sync and async ones behave alike.
    const oauthError = (reply: FastifyReply, status: number, error: string): { error: string } => {
      void reply.code(status).header('cache-control', 'no-store');
      return { error };
    };

    app.get('/.well-known/openid-configuration', () => ({
      issuer,
      jwks_uri: `${issuer}/jwks`,
      token_endpoint: `${issuer}/token`,
      device_authorization_endpoint: `${issuer}/device/authorize`,
      grant_types_supported: [DEVICE_CODE_GRANT],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none'],
      scopes_supported: ['openid'],
      subject_types_supported: ['public'],
      claims_supported: ['sub', 'name', 'preferred_username', 'email', 'email_verified', 'groups', 'amr'],
    }));

    app.get('/jwks', () => ({ keys: [key.publicJwk] }));

    app.post('/device/authorize', (req, reply) => {
      if (field(req.body, 'client_id') !== clientId) return oauthError(reply, 401, 'invalid_client');
      const created = devices.create(clientId);
      if (!created) return oauthError(reply, 503, 'temporarily_unavailable');
      const verificationUri = `${issuer}/device`;
      void reply.header('cache-control', 'no-store');
      return {
        device_code: created.deviceCode,
        user_code: created.userCode,
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(created.userCode)}`,
        expires_in: created.expiresInSeconds,
        interval: created.intervalSeconds,
      };
    });

    app.get('/device', (req, reply) => {
      const query = req.query as Record<string, unknown>;
      const userCode = typeof query['user_code'] === 'string' ? query['user_code'].slice(0, 64) : '';
      void reply.headers(PAGE_HEADERS);
      return verificationPage({ action: `${prefix}/device`, userCode });
    });

    app.post('/device', (req, reply) => {
      const userCode = field(req.body, 'user_code').slice(0, 64);
      const user = findDemoUser(field(req.body, 'username'));
      void reply.headers(PAGE_HEADERS);
      const refuse = (error: string): string => {
        void reply.code(400);
        return verificationPage({ action: `${prefix}/device`, userCode, error });
      };
      if (!user) return refuse('Pick one of the demo users.');
      if (!devices.approve(userCode, user.username)) return refuse('That code is unknown, used or expired.');
      logger.info({ username: user.username }, 'development issuer: device sign-in approved');
      return signedInPage(user.name);
    });

    app.post('/token', async (req, reply) => {
      if (field(req.body, 'grant_type') !== DEVICE_CODE_GRANT)
        return oauthError(reply, 400, 'unsupported_grant_type');
      const result = devices.poll(field(req.body, 'device_code'), field(req.body, 'client_id'));
      switch (result.status) {
        case 'approved':
          void reply.header('cache-control', 'no-store');
          return {
            access_token: await mintToken(result.username),
            token_type: 'Bearer',
            expires_in: DEFAULT_TTL_SECONDS,
            scope: 'openid',
          };
        case 'pending':
          return oauthError(reply, 400, 'authorization_pending');
        case 'slow_down':
          return oauthError(reply, 400, 'slow_down');
        case 'expired':
          return oauthError(reply, 400, 'expired_token');
        case 'invalid':
          return oauthError(reply, 400, 'invalid_grant');
      }
    });
    return Promise.resolve();
  };

  return { issuer, prefix, plugin, issuerConfig, mintToken };
}
