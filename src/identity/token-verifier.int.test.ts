import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { issuerSchema, type IssuerConfig } from '../config/schema.js';
import { PhigateError } from '../lib/errors.js';
import { createTokenVerifier, type TokenVerifier } from './token-verifier.js';

/** A stand-in identity provider on a real socket: discovery + JWKS, counting every request it serves. */
interface FakeIdp {
  readonly issuer: string;
  readonly hits: string[];
  keys: JWK[];
  discovery: (issuer: string) => { status: number; body: unknown };
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startIdp(): Promise<FakeIdp> {
  const idp: Partial<FakeIdp> & { hits: string[]; keys: JWK[] } = {
    hits: [],
    keys: [],
    discovery: (issuer) => ({ status: 200, body: { issuer, jwks_uri: `${issuer}/jwks` } }),
  };
  const server = createServer((req, res) => {
    idp.hits.push(req.url ?? '');
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      const { status, body } = idp.discovery!(idp.issuer!);
      reply(status, body);
    } else if (req.url === '/jwks') reply(200, { keys: idp.keys });
    else reply(404, {});
  });
  const issuer = await listen(server);
  return Object.assign(idp, {
    issuer,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as FakeIdp;
}

const now = (): number => Math.floor(Date.now() / 1000);

function issuerConfig(
  issuer: string,
  overrides: Partial<Record<keyof IssuerConfig, unknown>> = {},
): IssuerConfig {
  return issuerSchema.parse({
    issuer,
    audience: 'phigate',
    algorithms: ['ES256', 'RS256', 'PS256'],
    mfa: { amr: ['otp', 'mfa'], acr: ['urn:example:mfa'] },
    ...overrides,
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PhigateError, `expected PhigateError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('token verifier', () => {
  let idp: FakeIdp;
  let attacker: { url: string; hits: string[]; server: Server };
  let ecKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let rsaKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let otherKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let verifier: TokenVerifier;

  const claims = (extra: Record<string, unknown> = {}): JWTPayload => ({
    iss: idp.issuer,
    sub: 'user-1',
    aud: 'phigate',
    iat: now(),
    exp: now() + 600,
    jti: 'token-1',
    name: 'Test User',
    email: 'test@clinic.example',
    groups: ['support', 'analysts'],
    amr: ['pwd'],
    ...extra,
  });
  const sign = (
    payload: JWTPayload,
    header: Record<string, unknown> = {},
    key: CryptoKey | Uint8Array = ecKey.privateKey,
  ): Promise<string> =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'ec-1', ...header })
      .sign(key);

  before(async () => {
    idp = await startIdp();
    ecKey = await generateKeyPair('ES256', { extractable: true });
    rsaKey = await generateKeyPair('RS256', { extractable: true });
    otherKey = await generateKeyPair('ES256', { extractable: true });
    idp.keys = [
      { ...(await exportJWK(ecKey.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rsaKey.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    ];
    const attackerHits: string[] = [];
    const server = createServer((req, res) => {
      attackerHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [] }));
    });
    attacker = { url: await listen(server), hits: attackerHits, server };
    verifier = createTokenVerifier({ issuers: [issuerConfig(idp.issuer)] });
  });

  after(async () => {
    await idp.close();
    await new Promise<void>((resolve) => attacker.server.close(() => resolve()));
  });

  it('maps a valid access token to a principal', async () => {
    const exp = now() + 600;
    const principal = await verifier.verify(await sign(claims({ exp })));
    assert.equal(principal.id, `${idp.issuer}#user-1`);
    assert.equal(principal.issuer, idp.issuer);
    assert.equal(principal.subject, 'user-1');
    assert.equal(principal.displayName, 'Test User');
    assert.equal(principal.email, 'test@clinic.example');
    assert.deepEqual(principal.groups, ['support', 'analysts']);
    assert.equal(principal.mfa.satisfied, false);
    assert.equal(principal.tokenId, 'token-1');
    assert.equal(principal.tokenExpiresAt.getTime(), exp * 1000);
  });

  it('reads the configured person claims, and only usable values of them', async () => {
    const withClaims = createTokenVerifier({
      issuers: [issuerConfig(idp.issuer)],
      personClaims: ['employee_number', 'badge', 'staff_id'],
    });
    const principal = await withClaims.verify(
      await sign(
        claims({
          email_verified: true,
          employee_number: ' E-1001 ',
          badge: 77,
          staff_id: ['S-1'],
          payroll_id: 'P-9',
        }),
      ),
    );
    assert.equal(principal.emailVerified, true);
    assert.deepEqual(principal.personClaims, { employee_number: 'E-1001', badge: '77' });
    const plain = await verifier.verify(await sign(claims({ employee_number: 'E-1001' })));
    assert.deepEqual(plain.personClaims, {}, 'no person claims unless configured');
    assert.equal(plain.emailVerified, false, 'no email_verified: the address is not verified');
  });

  it('refuses missing and malformed tokens', async () => {
    await rejectsWith(verifier.verify(''), 'token.missing');
    await rejectsWith(verifier.verify('not-a-jwt'), 'token.malformed');
    await rejectsWith(verifier.verify(`${b64({ alg: 'ES256' })}.${b64('x')}.sig`), 'token.malformed');
    await rejectsWith(verifier.verify('a'.repeat(20_000)), 'token.malformed');
  });

  describe('ATTACKS 1: algorithm confusion', () => {
    it('refuses alg none', async () => {
      const payload = b64(claims());
      await rejectsWith(
        verifier.verify(`${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`),
        'token.alg-refused',
      );
      await rejectsWith(
        verifier.verify(`${b64({ alg: 'None', typ: 'at+jwt' })}.${payload}.`),
        'token.alg-refused',
      );
    });

    it('refuses HS256 signed with the public key (PEM or JWK) as the secret', async () => {
      const pem = new TextEncoder().encode(await exportSPKI(rsaKey.publicKey));
      const jwkText = new TextEncoder().encode(JSON.stringify(idp.keys[1]));
      for (const secret of [pem, jwkText]) {
        const token = await sign(claims(), { alg: 'HS256', kid: 'rsa-1' }, secret);
        await rejectsWith(verifier.verify(token), 'token.alg-refused');
      }
    });

    it('refuses an algorithm the issuer is not configured for', async () => {
      const p384 = await generateKeyPair('ES384');
      await rejectsWith(
        verifier.verify(await sign(claims(), { alg: 'ES384' }, p384.privateKey)),
        'token.alg-refused',
      );
    });

    it('holds a key to the alg it declares in the JWKS (RS256 key, PS256 token)', async () => {
      const pss = await importJWK(await exportJWK(rsaKey.privateKey), 'PS256');
      const token = await sign(claims(), { alg: 'PS256', kid: 'rsa-1' }, pss);
      await rejectsWith(verifier.verify(token), 'token.alg-refused');
      // The same key with its declared algorithm is fine, so the refusal above is about the algorithm only.
      await verifier.verify(await sign(claims(), { alg: 'RS256', kid: 'rsa-1' }, rsaKey.privateKey));
    });

    it('refuses a valid-looking token signed by another key under a known kid', async () => {
      await rejectsWith(
        verifier.verify(await sign(claims(), {}, otherKey.privateKey)),
        'token.bad-signature',
      );
    });
  });

  describe('ATTACKS 2: keys named by the token itself', () => {
    it('refuses jku, x5u, jwk and x5c headers and never fetches them', async () => {
      const attackerJwk = await exportJWK(otherKey.publicKey);
      const headers: Record<string, unknown>[] = [
        { jku: `${attacker.url}/jwks.json` },
        { x5u: `${attacker.url}/cert.pem` },
        { jwk: attackerJwk },
        { x5c: ['MIIBszCCAVmgAwIBAgIUY'] },
      ];
      for (const header of headers) {
        const token = await sign(claims(), { ...header, kid: 'attacker' }, otherKey.privateKey);
        await rejectsWith(verifier.verify(token), 'token.header-key-refused');
      }
      assert.deepEqual(attacker.hits, []);
    });
  });

  describe('ATTACKS 3: key ids', () => {
    it('rate-limits JWKS refreshes under a storm of unknown kids', async () => {
      const stormIdp = await startIdp();
      try {
        stormIdp.keys = idp.keys;
        const storm = createTokenVerifier({
          issuers: [issuerConfig(stormIdp.issuer, { jwksCooldown: '30s' })],
        });
        const token = (kid: string): Promise<string> => sign(claims({ iss: stormIdp.issuer }), { kid });
        await storm.verify(await token('ec-1'));
        for (let i = 0; i < 25; i++)
          await rejectsWith(storm.verify(await token(`unknown-${i}`)), 'token.unknown-key');
        const burst = await Promise.all(Array.from({ length: 25 }, (_, i) => token(`burst-${i}`)));
        await Promise.all(burst.map((t) => rejectsWith(storm.verify(t), 'token.unknown-key')));
        const jwksHits = stormIdp.hits.filter((h) => h === '/jwks').length;
        assert.ok(jwksHits <= 2, `expected at most 2 JWKS downloads, saw ${jwksHits}`);
        assert.equal(stormIdp.hits.filter((h) => h.startsWith('/.well-known')).length, 1);
      } finally {
        await stormIdp.close();
      }
    });

    it('refreshes the JWKS for a new kid once the cooldown has passed (key rotation)', async () => {
      const rotating = await startIdp();
      try {
        rotating.keys = [idp.keys[0]!];
        const v = createTokenVerifier({
          issuers: [issuerConfig(rotating.issuer, { jwksCooldown: '200ms' })],
        });
        await v.verify(await sign(claims({ iss: rotating.issuer })));
        const next = await generateKeyPair('ES256');
        rotating.keys = [
          ...rotating.keys,
          { ...(await exportJWK(next.publicKey)), kid: 'ec-2', alg: 'ES256' },
        ];
        const rotated = await sign(claims({ iss: rotating.issuer }), { kid: 'ec-2' }, next.privateKey);
        await rejectsWith(v.verify(rotated), 'token.unknown-key');
        await new Promise((resolve) => setTimeout(resolve, 300));
        const principal = await v.verify(rotated);
        assert.equal(principal.subject, 'user-1');
        assert.equal(rotating.hits.filter((h) => h === '/jwks').length, 2);
      } finally {
        await rotating.close();
      }
    });

    it('treats kids with path or SQL characters as plain unknown keys', async () => {
      const before = idp.hits.length;
      for (const kid of ['../../etc/passwd', "' OR 1=1 --", '%2e%2e/jwks', 'ec-1/../rsa-1']) {
        await rejectsWith(verifier.verify(await sign(claims(), { kid })), 'token.unknown-key');
      }
      assert.ok(
        idp.hits.slice(before).every((h) => h === '/jwks'),
        `unexpected request ${idp.hits.slice(before).join(', ')}`,
      );
    });
  });

  describe('ATTACKS 4: time', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const t = at.getTime() / 1000;
    const timed = (): TokenVerifier =>
      createTokenVerifier({
        issuers: [issuerConfig(idp.issuer, { clockSkew: '30s' })],
        clock: { now: () => at },
      });

    it('requires exp', async () => {
      const { exp: _exp, ...noExp } = claims({ iat: t });
      await rejectsWith(timed().verify(await sign(noExp)), 'token.exp-missing');
    });

    it('refuses expired tokens, allowing the configured skew and no more', async () => {
      const v = timed();
      await rejectsWith(v.verify(await sign(claims({ iat: t - 3600, exp: t - 3000 }))), 'token.expired');
      await v.verify(await sign(claims({ iat: t - 600, exp: t - 25 })));
      await rejectsWith(v.verify(await sign(claims({ iat: t - 600, exp: t - 35 }))), 'token.expired');
    });

    it('honours nbf within the skew', async () => {
      const v = timed();
      await rejectsWith(
        v.verify(await sign(claims({ iat: t, nbf: t + 3600, exp: t + 7200 }))),
        'token.not-yet-valid',
      );
      await v.verify(await sign(claims({ iat: t, nbf: t + 25, exp: t + 600 })));
      await rejectsWith(
        v.verify(await sign(claims({ iat: t, nbf: t + 35, exp: t + 600 }))),
        'token.not-yet-valid',
      );
    });

    it('refuses non-numeric exp', async () => {
      await rejectsWith(
        timed().verify(await sign(claims({ exp: 'tomorrow' as unknown as number }))),
        'token.malformed',
      );
    });
  });

  describe('ATTACKS 5: issuer, audience and token type', () => {
    it('refuses issuers that are not configured exactly', async () => {
      for (const iss of [`${idp.issuer}/`, idp.issuer.toUpperCase(), 'https://evil.example', undefined]) {
        await rejectsWith(verifier.verify(await sign(claims({ iss }))), 'token.unknown-issuer');
      }
    });

    it('requires the exact audience, as a string or an array element', async () => {
      for (const aud of ['other', 'phigate-admin', 'phigat', 'PHIGATE', ['phigate-admin'], ['phigate ']]) {
        await rejectsWith(verifier.verify(await sign(claims({ aud }))), 'token.wrong-audience');
      }
      const { aud: _aud, ...noAud } = claims();
      await rejectsWith(verifier.verify(await sign(noAud)), 'token.wrong-audience');
      await verifier.verify(await sign(claims({ aud: ['other', 'phigate'] })));
    });

    it('refuses ID tokens and untyped JWTs as access tokens', async () => {
      await rejectsWith(verifier.verify(await sign(claims(), { typ: 'JWT' })), 'token.wrong-type');
      await rejectsWith(verifier.verify(await sign(claims(), { typ: undefined })), 'token.wrong-type');
      await verifier.verify(await sign(claims(), { typ: 'application/at+jwt' }));
      const lenient = createTokenVerifier({
        issuers: [issuerConfig(idp.issuer, { accessTokenType: 'any' })],
      });
      await lenient.verify(await sign(claims(), { typ: 'JWT' }));
    });

    it('requires a subject', async () => {
      const { sub: _sub, ...noSub } = claims();
      await rejectsWith(verifier.verify(await sign(noSub)), 'token.subject-missing');
      await rejectsWith(
        verifier.verify(await sign(claims({ sub: 42 as unknown as string }))),
        'token.subject-missing',
      );
    });
  });

  describe('ATTACKS 7: MFA evidence and claim shapes', () => {
    it('reads MFA from amr or acr, per the issuer configuration', async () => {
      const mfa = async (extra: Record<string, unknown>): Promise<boolean> =>
        (await verifier.verify(await sign(claims(extra)))).mfa.satisfied;
      assert.equal(await mfa({ amr: ['pwd'] }), false);
      assert.equal(await mfa({ amr: undefined }), false);
      assert.equal(await mfa({ amr: 'otp' }), false);
      assert.equal(await mfa({ amr: ['pwd', 'otp'] }), true);
      assert.equal(await mfa({ acr: 'urn:example:mfa' }), true);
      assert.equal(await mfa({ acr: 'urn:example:password' }), false);
    });

    it('takes groups only from an array of strings, never by splitting a string', async () => {
      const groups = async (value: unknown): Promise<readonly string[]> =>
        (await verifier.verify(await sign(claims({ groups: value })))).groups;
      assert.deepEqual(await groups('support,phigate-admins'), []);
      assert.deepEqual(await groups(['support', 7]), []);
      assert.deepEqual(await groups({ 0: 'phigate-admins' }), []);
      assert.deepEqual(await groups(['support']), ['support']);
    });

    it('uses the configured name and groups claims with fallbacks', async () => {
      const custom = createTokenVerifier({
        issuers: [
          issuerConfig(idp.issuer, { nameClaim: 'display', groupsClaim: 'https://example.com/roles' }),
        ],
      });
      const p = await custom.verify(
        await sign(claims({ display: 'Custom', 'https://example.com/roles': ['physicians'], groups: ['x'] })),
      );
      assert.equal(p.displayName, 'Custom');
      assert.deepEqual(p.groups, ['physicians']);
      const fallback = await custom.verify(
        await sign(claims({ name: undefined, preferred_username: 'tuser' })),
      );
      assert.equal(fallback.displayName, 'tuser');
      const bare = await custom.verify(await sign(claims({ name: undefined })));
      assert.equal(bare.displayName, 'user-1');
    });
  });

  describe('discovery', () => {
    it('refuses a discovery document that names another issuer, without fetching its keys', async () => {
      const mixup = await startIdp();
      try {
        mixup.keys = idp.keys;
        mixup.discovery = (issuer) => ({
          status: 200,
          body: { issuer: `${issuer}/other`, jwks_uri: `${issuer}/jwks` },
        });
        const v = createTokenVerifier({ issuers: [issuerConfig(mixup.issuer)] });
        await rejectsWith(v.verify(await sign(claims({ iss: mixup.issuer }))), 'token.issuer-unavailable');
        assert.deepEqual(mixup.hits, ['/.well-known/openid-configuration']);
      } finally {
        await mixup.close();
      }
    });

    it('refuses a plain-http jwks_uri off loopback', async () => {
      const insecure = await startIdp();
      try {
        insecure.discovery = (issuer) => ({
          status: 200,
          body: { issuer, jwks_uri: `${attacker.url.replace('127.0.0.1', 'example.com')}/jwks` },
        });
        const v = createTokenVerifier({ issuers: [issuerConfig(insecure.issuer)] });
        await rejectsWith(v.verify(await sign(claims({ iss: insecure.issuer }))), 'token.issuer-unavailable');
      } finally {
        await insecure.close();
      }
    });

    it('answers unavailable (503) while the issuer is down, without hammering it', async () => {
      const down = await startIdp();
      try {
        down.keys = idp.keys;
        down.discovery = () => ({ status: 500, body: {} });
        const v = createTokenVerifier({ issuers: [issuerConfig(down.issuer, { jwksCooldown: '30s' })] });
        for (let i = 0; i < 10; i++) {
          await assert.rejects(v.verify(await sign(claims({ iss: down.issuer }))), (err: unknown) => {
            assert.ok(err instanceof PhigateError);
            assert.equal(err.code, 'token.issuer-unavailable');
            assert.equal(err.kind, 'unavailable');
            return true;
          });
        }
        assert.equal(down.hits.length, 1);
      } finally {
        await down.close();
      }
    });

    it('refuses plain-http issuers off loopback at configuration time', () => {
      assert.throws(
        () => createTokenVerifier({ issuers: [issuerConfig('http://idp.example.com')] }),
        (err: unknown) => err instanceof PhigateError && err.code === 'config.identity.insecure-issuer',
      );
    });
  });
});
