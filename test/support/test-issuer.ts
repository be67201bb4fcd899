/**
 * An OIDC issuer for tests that need tokens the development issuer cannot give: any subject with any claims
 * (unverified e-mails, person claims, several accounts of one human). It serves discovery and a JWKS on a real
 * loopback socket, and signs ES256 `at+jwt` access tokens, so phigate verifies them through the same discovery,
 * JWKS and verifier path as production tokens. Several of them make several trusted issuers.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface TestIssuer {
  /** `http://127.0.0.1:<port>`: the exact `iss` of its tokens. */
  readonly issuer: string;
  /** The audience its tokens carry unless a test says otherwise. */
  readonly audience: string;
  /** An access token for `subject` with these claims (`iss`, `sub`, `aud`, `iat`, `exp`, `jti` are set here). */
  mint(subject: string, claims?: JWTPayload): Promise<string>;
  /** The `identity.issuers` entry (YAML flow mapping) that trusts this issuer. */
  configEntry(): string;
  close(): Promise<void>;
}

export async function startTestIssuer(audience = 'phigate'): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  let issuer = '';
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') reply(200, { issuer, jwks_uri: `${issuer}/jwks` });
    else if (req.url === '/jwks') reply(200, { keys: [jwk] });
    else reply(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    audience,
    mint: (subject, claims = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(issuer)
        .setSubject(subject)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .setJti(randomUUID())
        .sign(privateKey);
    },
    configEntry: () =>
      `{ issuer: '${issuer}', audience: ${audience}, algorithms: [ES256], mfa: { amr: [otp], acr: [] } }`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
