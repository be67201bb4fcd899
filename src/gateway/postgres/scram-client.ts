/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as a client, the way PostgreSQL speaks it: how the gateway logs in upstream as a
 * grant's role. Pure: the caller moves the messages; this checks the server's nonce and, at the end, the server's
 * signature — an upstream that cannot prove it knows the password is not talked to.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from './protocol-error.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

export interface ScramSession {
  /** The client-first message (sent in SASLInitialResponse). */
  readonly clientFirst: string;
  /** Given the server-first message, the client-final message (sent in SASLResponse). */
  respond(serverFirst: string): string;
  /** Checks the server-final message; throws when the server's signature does not prove the password. */
  verify(serverFinal: string): void;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

function attributes(message: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new ProtocolError(`SCRAM ${what}: malformed attribute`);
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

export function startScram(password: string, nonce = randomBytes(18).toString('base64')): ScramSession {
  // PostgreSQL ignores the SCRAM user name (it uses the startup packet's): send it empty, as libpq does.
  const clientFirstBare = `n=,r=${nonce}`;
  let expectedServerSignature: Buffer | undefined;
  return {
    clientFirst: `n,,${clientFirstBare}`,
    respond(serverFirst) {
      const a = attributes(serverFirst, 'server-first');
      const serverNonce = a.get('r');
      const salt = a.get('s');
      const iterations = Number(a.get('i'));
      if (
        serverNonce === undefined ||
        !serverNonce.startsWith(nonce) ||
        serverNonce.length === nonce.length
      ) {
        throw new ProtocolError('SCRAM server-first: the server nonce does not extend ours');
      }
      if (
        salt === undefined ||
        !Number.isInteger(iterations) ||
        iterations < 4096 ||
        iterations > 10_000_000
      ) {
        throw new ProtocolError('SCRAM server-first: missing salt or unreasonable iteration count');
      }
      const salted = pbkdf2Sync(
        password.normalize('NFKC'),
        Buffer.from(salt, 'base64'),
        iterations,
        32,
        'sha256',
      );
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const clientFinalWithoutProof = `c=biws,r=${serverNonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
      return `${clientFinalWithoutProof},p=${proof.toString('base64')}`;
    },
    verify(serverFinal) {
      const a = attributes(serverFinal, 'server-final');
      if (a.has('e')) throw new ProtocolError(`SCRAM: the server refused (${a.get('e')})`, '28P01');
      const v = Buffer.from(a.get('v') ?? '', 'base64');
      if (
        expectedServerSignature === undefined ||
        v.length !== 32 ||
        !timingSafeEqual(v, expectedServerSignature)
      ) {
        throw new ProtocolError(
          'SCRAM server-final: the server did not prove it knows the password',
          '28P01',
        );
      }
    },
  };
}
