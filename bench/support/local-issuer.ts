/**
 * A local OIDC issuer for the benchmarks: discovery and JWKS over HTTP, and access tokens (ES256, `at+jwt`) for
 * synthetic people, so that a phigate in another process verifies tokens exactly as it would a real provider's.
 */
import { createServer } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface LocalIssuer {
  readonly issuer: string;
  /** An access token for `subject` in `groups`, valid an hour. */
  token(subject: string, groups: readonly string[], name?: string): Promise<string>;
  close(): void;
}

export async function startLocalIssuer(audience: string): Promise<LocalIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  const idp = createServer((req, res) => {
    const issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/jwks' ? { keys: [jwk] } : { issuer, jwks_uri: `${issuer}/jwks` }));
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
  return {
    issuer,
    token: (subject, groups, name = `Synthetic ${subject}`) =>
      new SignJWT({ groups: [...groups], name })
        .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey),
    close: () => idp.close(),
  };
}
