/**
 * The development issuer's signing key, persisted so that tokens cached by the CLI still verify after a restart.
 * The file holds a private key: it is created exclusively with mode 0600 and tightened again if someone loosened it.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';

export const DEV_ISSUER_KEY_FILE = 'dev-issuer-key.json';
const ALG = 'ES256';

export interface DevIssuerKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** Public half only, as served from the JWKS endpoint. */
  readonly publicJwk: JWK;
}

export async function loadOrCreateDevIssuerKey(
  dataDir: string,
  logger?: { warn(obj: object, msg: string): void },
): Promise<DevIssuerKey> {
  const file = path.join(dataDir, DEV_ISSUER_KEY_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
    if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) {
      logger?.warn({ file }, 'development issuer key was readable by others; restricting it to mode 0600');
      await chmod(file, 0o600);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    jwk = await createKeyFile(file);
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new Error(`${file} does not hold an ES256 private key; delete it to generate a new one`);
  }
  const { d: _d, ...publicParts } = jwk;
  const kid = await calculateJwkThumbprint(publicParts);
  const privateKey = await importJWK({ ...jwk, alg: ALG }, ALG);
  if (privateKey instanceof Uint8Array) throw new Error('unexpected symmetric key');
  return { kid, privateKey, publicJwk: { ...publicParts, kid, alg: ALG, use: 'sig' } };
}

async function createKeyFile(file: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  try {
    // `wx`: if two processes start together, one creates the file and the other reads it.
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' });
    return jwk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return JSON.parse(await readFile(file, 'utf8')) as JWK;
  }
}
