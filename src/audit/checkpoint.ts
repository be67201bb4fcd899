/**
 * Signed checkpoints: "the log had N events and this root hash at this time", signed with Ed25519. Published
 * checkpoints are what make a rewrite of the whole database detectable: a rewritten log cannot produce a consistency
 * proof to a root someone else kept.
 *
 * The signed body is a small text note in the style of the transparency-log checkpoint format:
 *
 *     phigate-audit-checkpoint/v1
 *     <origin: the log's name>
 *     <tree size, decimal>
 *     <root hash, base64>
 *     <time, RFC 3339 UTC>
 *
 * each line ending in "\n". Text, so that an auditor can read what was signed; fixed fields, so that it parses one way.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** A signed checkpoint as kept in the store. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly rootHash: Buffer;
  readonly signedAt: Date;
  readonly keyId: string;
  readonly body: string;
  readonly signature: string;
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: bigint;
  readonly rootHash: Buffer;
  readonly time: Date;
}

export interface SignedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly body: string;
  /** Ed25519 signature over the UTF-8 body, base64. */
  readonly signature: string;
}

const HEADER = 'phigate-audit-checkpoint/v1';
const ORIGIN = /^[\x21-\x7e]{1,200}$/;
const BASE64_HASH = /^[A-Za-z0-9+/]{43}=$/;
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function checkpointBody(c: Checkpoint): string {
  if (!ORIGIN.test(c.origin))
    throw new RangeError('checkpoint origin must be 1–200 visible ASCII characters');
  if (c.size < 0n) throw new RangeError('checkpoint size must not be negative');
  if (c.rootHash.length !== 32) throw new RangeError('checkpoint root hash must be 32 bytes');
  return `${HEADER}\n${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\n${c.time.toISOString()}\n`;
}

/** Parses a body strictly: any deviation from the one canonical form is refused. */
export function parseCheckpointBody(body: string): Checkpoint | undefined {
  const lines = body.split('\n');
  if (lines.length !== 6 || lines[5] !== '') return undefined;
  const [header, origin, size, root, time] = lines as [string, string, string, string, string];
  if (header !== HEADER || !ORIGIN.test(origin) || !/^(0|[1-9]\d{0,18})$/.test(size)) return undefined;
  if (!BASE64_HASH.test(root) || !RFC3339_UTC.test(time) || Number.isNaN(Date.parse(time))) return undefined;
  const checkpoint = {
    origin,
    size: BigInt(size),
    rootHash: Buffer.from(root, 'base64'),
    time: new Date(time),
  };
  return checkpointBody(checkpoint) === body ? checkpoint : undefined;
}

export function loadSigningKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error('the audit signing key must be an Ed25519 private key');
  return key;
}

export function loadVerifyingKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error('the audit public key must be an Ed25519 public key');
  return key;
}

export function signCheckpoint(c: Checkpoint, key: KeyObject): SignedCheckpoint {
  const body = checkpointBody(c);
  return { checkpoint: c, body, signature: sign(null, Buffer.from(body, 'utf8'), key).toString('base64') };
}

/** Verifies with only the public key; returns the checkpoint it vouches for, or undefined. */
export function verifyCheckpoint(body: string, signature: string, key: KeyObject): Checkpoint | undefined {
  const checkpoint = parseCheckpointBody(body);
  if (!checkpoint || !isCanonicalBase64(signature, 64)) return undefined;
  return verify(null, Buffer.from(body, 'utf8'), key, Buffer.from(signature, 'base64'))
    ? checkpoint
    : undefined;
}

/**
 * Base64 of exactly `bytes` bytes in its one canonical spelling: the last character's unused bits must be zero, or
 * two spellings would decode to the same bytes and a changed file would still verify.
 */
export function isCanonicalBase64(text: string, bytes: number): boolean {
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === bytes && decoded.toString('base64') === text;
}

/** A short public name for a verifying key: the first 96 bits of SHA-256 over its SPKI DER, base64url. */
export function publicKeyId(key: KeyObject): string {
  const der = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return `ek_${createHash('sha256').update(der).digest().subarray(0, 12).toString('base64url')}`;
}
