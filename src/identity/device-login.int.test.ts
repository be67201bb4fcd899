/**
 * `phigate login` against a real OpenID Provider: oidc-provider, started here on 127.0.0.1:0 with the device flow
 * and JWT access tokens for our audience (resource indicators). The person's part (type the code, sign in, consent)
 * is played over HTTP with cookies, the provider's forms parsed like a browser would submit them, and the sign-in
 * itself through a tiny interaction endpoint that calls `provider.interactionFinished`. The token obtained is then
 * verified by our verifier, configured against the same provider.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { issuerSchema } from '../config/schema.js';
import { PhigateError } from '../lib/errors.js';
import { deviceLogin } from './device-login.js';
import { createTokenVerifier } from './token-verifier.js';

/** oidc-provider ships no type declarations: the little of it this test touches, typed here. */
interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  interactionDetails(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ prompt: { name: string }; session?: { accountId: string } }>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: object,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  Grant: new (init: { accountId: string; clientId: string }) => {
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  };
}
interface ProviderModule {
  default: new (issuer: string, configuration: object) => Provider;
  errors: { InvalidTarget: new () => Error };
}
interface KoaContext {
  body: unknown;
}
// A non-literal specifier keeps TypeScript from demanding declarations it cannot have.
const providerModuleName = 'oidc-provider';
const { default: OidcProvider, errors: oidcErrors } = (await import(providerModuleName)) as ProviderModule;

const AUDIENCE = 'https://api.phigate.test';
const CLIENT_ID = 'phigate-cli';
const ACCOUNTS: Record<string, { name: string; groups: string[]; amr: string[] }> = {
  olivia: { name: 'Dr. Olivia Oncall', groups: ['physicians', 'oncall'], amr: ['pwd', 'otp'] },
};

interface RunningProvider {
  readonly issuer: string;
  readonly provider: Provider;
  close(): Promise<void>;
}

async function startProvider(signInAs: { current: string }): Promise<RunningProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const provider = new OidcProvider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: {
      keys: [
        { ...(await exportJWK(privateKey)), kid: 'op-ec', alg: 'ES256', use: 'sig' },
        { ...(await exportJWK(rsa.privateKey)), kid: 'op-rsa', alg: 'RS256', use: 'sig' },
      ],
    },
    cookies: { keys: ['device-login-test-cookie-key'] },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx: KoaContext, form: string) => {
          ctx.body = `<html><body>${form}</body></html>`;
        },
        userCodeConfirmSource: (ctx: KoaContext, form: string) => {
          ctx.body = `<html><body>${form}</body></html>`;
        },
        successSource: (ctx: KoaContext) => {
          ctx.body = '<html><body><p id="device-flow-success">Signed in</p></body></html>';
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== AUDIENCE) throw new oidcErrors.InvalidTarget();
          return {
            scope: 'phigate',
            audience: AUDIENCE,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    findAccount: (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: () => ({ sub, name: ACCOUNTS[sub]?.name }),
    }),
    extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => {
      const account = ACCOUNTS[token.accountId ?? ''];
      return account ? { name: account.name, groups: account.groups, amr: account.amr } : undefined;
    },
    // Short lifetimes, set explicitly (the provider nags about defaults).
    ttl: { DeviceCode: 600, Session: 3600, Interaction: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  });

  const callback = provider.callback();
  // The "login UI": signs in whoever the test chose, and grants the requested scopes and resource.
  const interact = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: signInAs.current } },
        {
          mergeWithLastSubmission: false,
        },
      );
      return;
    }
    const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: CLIENT_ID });
    grant.addOIDCScope('openid');
    grant.addResourceScope(AUDIENCE, 'phigate');
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  };
  handler = (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interact(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
    } else {
      void callback(req, res);
    }
  };
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { issuer, provider, close };
}

/** A minimal browser: keeps cookies, follows redirects, submits the single form on each page. */
async function actAsBrowser(startUrl: string): Promise<string> {
  const cookies = new Map<string, string>();
  let url = startUrl;
  let init: RequestInit = { method: 'GET' };
  for (let step = 0; step < 20; step++) {
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1));
    }
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).href;
      init = { method: 'GET' };
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, `unexpected ${res.status} at ${url}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
    if (!action) return html;
    const fields = new URLSearchParams();
    for (const input of html.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name) fields.append(name, decodeEntities(value));
    }
    url = new URL(decodeEntities(action), url).href;
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: fields.toString(),
    };
  }
  throw new Error('the sign-in did not finish in 20 steps');
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_m, e: string) =>
    e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : "'",
  );
}

describe('device login against oidc-provider', () => {
  const signInAs = { current: 'olivia' };
  let op: RunningProvider;
  before(async () => {
    op = await startProvider(signInAs);
  });
  after(async () => {
    await op.close();
  });

  it('obtains an at+jwt access token for our audience that our verifier accepts', async () => {
    let browsing: Promise<string> | undefined;
    const prompts: string[] = [];
    const result = await deviceLogin({
      issuer: op.issuer,
      clientId: CLIENT_ID,
      scope: 'openid phigate',
      resource: AUDIENCE,
      onPrompt: (verificationUri, userCode, complete) => {
        prompts.push(verificationUri, userCode);
        browsing = actAsBrowser(complete ?? `${verificationUri}?user_code=${encodeURIComponent(userCode)}`);
      },
    });
    assert.match(await browsing!, /device-flow-success/);
    assert.equal(prompts[0], `${op.issuer}/device`);
    assert.equal(result.issuer, op.issuer);
    assert.equal(result.tokenType, 'bearer');
    assert.ok(result.expiresAt && result.expiresAt.getTime() > Date.now());

    const verifier = createTokenVerifier({
      issuers: [issuerSchema.parse({ issuer: op.issuer, audience: AUDIENCE, algorithms: ['ES256'] })],
    });
    const principal = await verifier.verify(result.accessToken);
    assert.equal(principal.id, `${op.issuer}#olivia`);
    assert.equal(principal.displayName, 'Dr. Olivia Oncall');
    assert.deepEqual(principal.groups, ['physicians', 'oncall']);
    assert.equal(principal.mfa.satisfied, true);
    assert.ok(principal.tokenId);

    // The same token is refused by an API expecting another audience: the resource indicator is what binds it.
    const other = createTokenVerifier({
      issuers: [
        issuerSchema.parse({ issuer: op.issuer, audience: 'https://other.test', algorithms: ['ES256'] }),
      ],
    });
    await assert.rejects(
      other.verify(result.accessToken),
      (err: unknown) => err instanceof PhigateError && err.code === 'token.wrong-audience',
    );
  });

  it('stops waiting when cancelled', async () => {
    const controller = new AbortController();
    await assert.rejects(
      deviceLogin({
        issuer: op.issuer,
        clientId: CLIENT_ID,
        resource: AUDIENCE,
        signal: controller.signal,
        onPrompt: () => controller.abort(),
      }),
      (err: unknown) => err instanceof PhigateError && err.code === 'login.aborted',
    );
  });

  it('refuses plain http to anything but loopback', async () => {
    await assert.rejects(
      deviceLogin({ issuer: 'http://idp.example.com', clientId: CLIENT_ID, onPrompt: () => undefined }),
      (err: unknown) => err instanceof PhigateError && err.code === 'login.insecure-issuer',
    );
  });
});
