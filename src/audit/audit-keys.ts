/**
 * The audit log's two keys, which live outside the store on purpose: whoever can rewrite the database must not also
 * hold the key that signs checkpoints, nor the key that turns patient ids into tokens.
 *
 * - HMAC key: base64 text of ≥ 32 random bytes. Makes patient and literal tokens.
 * - Signing key: Ed25519 private key, PKCS#8 PEM. Signs checkpoints; its public key is what auditors keep.
 *
 * A key may also be given inline (config or environment, for secret stores that inject variables). When neither is
 * configured, a key is generated under the data directory (mode 0600) on first start and reused afterwards — right
 * for a single node and the demo; several replicas must be given the same keys.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PhigateError } from '../lib/errors.js';
import { loadSigningKey } from './checkpoint.js';
import { MIN_KEY_BYTES } from './pseudonymizer.js';

export interface AuditKeys {
  readonly hmacKey: Buffer;
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key: what `phigate audit public-key` prints. */
  readonly publicKeyPem: string;
  /** Files that were created because none were configured (for a start-up notice). */
  readonly generated: readonly string[];
}

export interface AuditKeyOptions {
  readonly hmacKeyFile?: string | undefined;
  readonly signingKeyFile?: string | undefined;
  /** Keys given inline (config or environment): they win over files and nothing is generated for them. */
  readonly hmacKey?: string | undefined;
  readonly signingKey?: string | undefined;
  readonly dataDir: string;
}

const DEFAULT_HMAC_FILE = 'audit-hmac.key';
const DEFAULT_SIGNING_FILE = 'audit-signing.pem';

function keyError(file: string, message: string): PhigateError {
  return new PhigateError('invalid', 'audit.key-invalid', `${file}: ${message}`, { file });
}

function readKeyFile(file: string): string {
  try {
    const mode = statSync(file).mode;
    // A key others can read is not a secret; refusing is safer than a warning nobody reads.
    if ((mode & 0o077) !== 0) throw keyError(file, 'is readable by group or others; chmod 600 it');
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof PhigateError) throw err;
    throw keyError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function parseHmacKey(text: string, file: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw keyError(file, 'is not base64 text');
  const key = Buffer.from(trimmed, 'base64');
  if (key.length < MIN_KEY_BYTES)
    throw keyError(file, `holds ${key.length} bytes; at least ${MIN_KEY_BYTES} needed`);
  return key;
}

function writeSecret(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // `wx`: never overwrite a key that appeared meanwhile (another process starting at the same time).
  writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

function existing(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

export function generateHmacKeyText(): string {
  return `${randomBytes(32).toString('base64')}\n`;
}

export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function loadAuditKeys(options: AuditKeyOptions): AuditKeys {
  const generated: string[] = [];
  const locate = (configured: string | undefined, fallback: string, make: () => string): string => {
    if (configured !== undefined) return configured;
    const file = path.resolve(options.dataDir, fallback);
    if (!existing(file)) {
      try {
        writeSecret(file, make());
        generated.push(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    return file;
  };
  const hmacKey =
    options.hmacKey !== undefined
      ? parseHmacKey(options.hmacKey, 'audit.hmacKey')
      : (() => {
          const file = locate(options.hmacKeyFile, DEFAULT_HMAC_FILE, generateHmacKeyText);
          return parseHmacKey(readKeyFile(file), file);
        })();
  const signingSource =
    options.signingKey !== undefined
      ? { name: 'audit.signingKey', text: options.signingKey }
      : (() => {
          const file = locate(options.signingKeyFile, DEFAULT_SIGNING_FILE, generateSigningKeyPem);
          return { name: file, text: readKeyFile(file) };
        })();
  let signingKey: KeyObject;
  try {
    signingKey = loadSigningKey(signingSource.text);
  } catch (err) {
    throw keyError(signingSource.name, err instanceof Error ? err.message : String(err));
  }
  const publicKey = createPublicKey(signingKey);
  return {
    hmacKey,
    signingKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    generated,
  };
}
