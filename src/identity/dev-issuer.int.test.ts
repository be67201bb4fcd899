import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { PhigateError } from '../lib/errors.js';
import { createDevIssuer, DEV_ISSUER_WARNING, type DevIssuer } from './dev-issuer.js';
import { DEV_ISSUER_KEY_FILE } from './dev-issuer-key.js';
import { deviceLogin } from './device-login.js';
import { createTokenVerifier } from './token-verifier.js';

interface Running {
  readonly dev: DevIssuer;
  readonly base: string;
  readonly warnings: string[];
  close(): Promise<void>;
}

/** The issuer must know its URL before Fastify is ready, so the socket listens first (port 0) and Fastify adopts it. */
async function startDevIssuer(dataDir: string, port = 0): Promise<Running> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const warnings: string[] = [];
  const logger = { warn: (_o: object, msg: string) => void warnings.push(msg), info: () => undefined };
  const dev = await createDevIssuer({ baseUrl: base, dataDir, audience: 'phigate', logger });
  const app = Fastify({
    serverFactory: (handler) => {
      server.on('request', handler);
      return server;
    },
  });
  await app.register(dev.plugin, { prefix: dev.prefix });
  await app.ready();
  const close = async (): Promise<void> => {
    await app.close();
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { dev, base, warnings, close };
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

describe('development issuer', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'phigate-dev-issuer-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('warns loudly and runs the device flow end to end; its tokens pass the real verifier', async () => {
    const running = await startDevIssuer(dataDir);
    try {
      const { dev } = running;
      assert.ok(running.warnings.includes(DEV_ISSUER_WARNING));
      assert.equal(dev.issuer, `${running.base}/dev-oidc`);

      const authorize = await fetch(
        `${dev.issuer}/device/authorize`,
        form({ client_id: 'phigate-cli', scope: 'openid' }),
      );
      assert.equal(authorize.status, 200);
      const grant = (await authorize.json()) as Record<string, string>;
      assert.match(grant['user_code']!, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);

      const poll = (): Promise<Response> =>
        fetch(
          `${dev.issuer}/token`,
          form({
            grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
            device_code: grant['device_code']!,
            client_id: 'phigate-cli',
          }),
        );
      const pending = await poll();
      assert.equal(pending.status, 400);
      assert.deepEqual(await pending.json(), { error: 'authorization_pending' });

      const page = await fetch(grant['verification_uri_complete']!);
      assert.equal(page.status, 200);
      assert.ok((await page.text()).includes(`value="${grant['user_code']}"`));

      const wrongUser = await fetch(
        `${dev.issuer}/device`,
        form({ user_code: grant['user_code']!, username: 'mallory' }),
      );
      assert.equal(wrongUser.status, 400);
      const typed = grant['user_code']!.toLowerCase().replace('-', ' ');
      const signedIn = await fetch(`${dev.issuer}/device`, form({ user_code: typed, username: 'carol' }));
      assert.equal(signedIn.status, 200);
      assert.match(await signedIn.text(), /Signed in as <strong>Dr\. Carol Lead<\/strong>/);

      const issued = await poll();
      assert.equal(issued.status, 200);
      const tokens = (await issued.json()) as Record<string, string>;
      assert.equal(tokens['token_type'], 'Bearer');
      assert.equal(decodeProtectedHeader(tokens['access_token']!).typ, 'at+jwt');

      const verifier = createTokenVerifier({ issuers: [dev.issuerConfig] });
      const principal = await verifier.verify(tokens['access_token']!);
      assert.equal(principal.id, `${dev.issuer}#carol`);
      assert.equal(principal.displayName, 'Dr. Carol Lead');
      assert.deepEqual(principal.groups, ['clinical-leads']);
      assert.equal(principal.mfa.satisfied, true);

      // A device code is good for one token only.
      assert.deepEqual(await (await poll()).json(), { error: 'invalid_grant' });
      // A used user code cannot be approved again (for another user).
      const reused = await fetch(
        `${dev.issuer}/device`,
        form({ user_code: grant['user_code']!, username: 'adam' }),
      );
      assert.equal(reused.status, 400);
    } finally {
      await running.close();
    }
  });

  it('serves the same flow to the CLI login (openid-client) with the token verifying', async () => {
    const running = await startDevIssuer(dataDir);
    try {
      const { dev } = running;
      let approval: Promise<Response> | undefined;
      const result = await deviceLogin({
        issuer: dev.issuer,
        clientId: dev.issuerConfig.cliClientId,
        onPrompt: (uri, userCode) => {
          approval = fetch(uri, form({ user_code: userCode, username: 'alice' }));
        },
      });
      assert.equal((await approval!).status, 200);
      assert.equal(result.issuer, dev.issuer);
      const principal = await createTokenVerifier({ issuers: [dev.issuerConfig] }).verify(result.accessToken);
      assert.equal(principal.subject, 'alice');
      assert.deepEqual(principal.groups, ['support']);
      assert.equal(principal.mfa.satisfied, false);
      assert.ok(result.expiresAt && result.expiresAt.getTime() > Date.now() + 50 * 60_000);
    } finally {
      await running.close();
    }
  });

  it('escapes what it echoes and forbids scripts and framing', async () => {
    const running = await startDevIssuer(dataDir);
    try {
      const evil = '"><script>alert(1)</script>';
      const page = await fetch(`${running.dev.issuer}/device?user_code=${encodeURIComponent(evil)}`);
      const html = await page.text();
      assert.ok(!html.includes('<script>'));
      assert.ok(html.includes('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(page.headers.get('x-frame-options'), 'DENY');

      const refused = await fetch(
        `${running.dev.issuer}/device`,
        form({ user_code: evil, username: 'alice' }),
      );
      assert.equal(refused.status, 400);
      assert.ok(!(await refused.text()).includes('<script>'));
    } finally {
      await running.close();
    }
  });

  it('refuses unknown clients and grant types', async () => {
    const running = await startDevIssuer(dataDir);
    try {
      const authorize = await fetch(
        `${running.dev.issuer}/device/authorize`,
        form({ client_id: 'someone-else' }),
      );
      assert.equal(authorize.status, 401);
      const token = await fetch(
        `${running.dev.issuer}/token`,
        form({ grant_type: 'password', client_id: 'phigate-cli' }),
      );
      assert.deepEqual(await token.json(), { error: 'unsupported_grant_type' });
    } finally {
      await running.close();
    }
  });

  it('persists its key with mode 0600 and reuses it, so earlier tokens still verify after a restart', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'phigate-dev-key-'));
    try {
      const first = await startDevIssuer(dir);
      const token = await first.dev.mintToken('olivia', { ttlSeconds: 600 });
      await first.close();
      const keyFile = path.join(dir, DEV_ISSUER_KEY_FILE);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      const keyText = readFileSync(keyFile, 'utf8');

      chmodSync(keyFile, 0o644);
      // Same address, so the same issuer URL: exactly what a restarted `phigate demo` looks like to a cached token.
      const second = await startDevIssuer(dir, Number(new URL(first.base).port));
      try {
        assert.equal(statSync(keyFile).mode & 0o777, 0o600);
        assert.equal(readFileSync(keyFile, 'utf8'), keyText);
        assert.ok(second.warnings.some((w) => w.includes('mode 0600')));
        const principal = await createTokenVerifier({ issuers: [second.dev.issuerConfig] }).verify(token);
        assert.equal(principal.subject, 'olivia');
        assert.equal(principal.mfa.satisfied, true);
        assert.deepEqual(principal.groups, ['physicians', 'oncall']);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mints only for demo users', async () => {
    const running = await startDevIssuer(dataDir);
    try {
      await assert.rejects(
        running.dev.mintToken('mallory'),
        (err: unknown) => err instanceof PhigateError && err.code === 'dev-issuer.unknown-user',
      );
    } finally {
      await running.close();
    }
  });
});
