/**
 * Connection tokens: the password a person gives the gateway, minted by `phigate connect` for one grant. Stateless
 * (any replica checks them with the key every replica shares) and short-lived; the grant is looked up again at
 * every connection, so a revoked grant's token opens nothing even before it expires.
 *
 * Format: `pgt_` + base64url(JSON payload) + `.` + base64url(HMAC-SHA-256). The MAC key is derived from the audit
 * HMAC key with its own label, so a token never equals a patient or literal token of the log.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ConnectionTokenClaims {
  /** The grant (access request id) the token opens. */
  readonly grantId: string;
  /** The person it was minted for (`issuer#subject`). */
  readonly principalId: string;
  readonly expiresAt: Date;
  /** Random id, recorded in audit events (never the token). */
  readonly tokenId: string;
}

export interface ConnectionTokens {
  mint(claims: Omit<ConnectionTokenClaims, 'tokenId'>): { token: string; tokenId: string };
  /** The claims of a well-formed, authentic, unexpired token; undefined for anything else. */
  verify(token: string, now: Date): ConnectionTokenClaims | undefined;
}

export const CONNECTION_TOKEN_PREFIX = 'pgt_';
/** Far beyond any token we mint; refuses giant passwords before any work. */
const MAX_TOKEN_LENGTH = 2048;

export function createConnectionTokens(secret: Buffer): ConnectionTokens {
  const key = createHmac('sha256', secret).update('phigate/connection-token/v1').digest();
  const mac = (payload: string): Buffer => createHmac('sha256', key).update(payload).digest();
  return {
    mint(claims) {
      const tokenId = randomBytes(12).toString('base64url');
      const payload = Buffer.from(
        JSON.stringify({
          g: claims.grantId,
          p: claims.principalId,
          e: Math.floor(claims.expiresAt.getTime() / 1000),
          j: tokenId,
        }),
      ).toString('base64url');
      return { token: `${CONNECTION_TOKEN_PREFIX}${payload}.${mac(payload).toString('base64url')}`, tokenId };
    },
    verify(token, now) {
      if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(CONNECTION_TOKEN_PREFIX)) return undefined;
      const [payload, signature, extra] = token.slice(CONNECTION_TOKEN_PREFIX.length).split('.');
      if (payload === undefined || signature === undefined || extra !== undefined) return undefined;
      // Compared as text: base64url decoding ignores stray characters and the last character's spare bits, so two
      // different strings could decode to the same MAC — a token must be exactly the one minted.
      const given = Buffer.from(signature);
      const expected = Buffer.from(mac(payload).toString('base64url'));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      let claims: unknown;
      try {
        claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
      const c = claims as { g?: unknown; p?: unknown; e?: unknown; j?: unknown };
      if (
        typeof c.g !== 'string' ||
        typeof c.p !== 'string' ||
        typeof c.e !== 'number' ||
        typeof c.j !== 'string'
      )
        return undefined;
      const expiresAt = new Date(c.e * 1000);
      if (expiresAt.getTime() <= now.getTime()) return undefined;
      return { grantId: c.g, principalId: c.p, expiresAt, tokenId: c.j };
    },
  };
}
