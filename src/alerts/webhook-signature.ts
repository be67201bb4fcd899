/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`; `v1` is HMAC-SHA256 with the secret after `whsec_` (base64), `v1a`
 * is Ed25519 with a key of its own. Both may be sent at once (space-separated), so receivers can move from one to
 * the other. Written here because it is a few lines of node:crypto; the tests verify it with the reference library.
 */
import { createHmac, createPrivateKey, sign, type KeyObject } from 'node:crypto';

export interface WebhookSigningKeys {
  /** `whsec_<base64>`. */
  readonly hmacSecret?: string | undefined;
  readonly ed25519?: KeyObject | undefined;
}

export function signatureHeaders(
  keys: WebhookSigningKeys,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  const content = Buffer.from(`${id}.${timestampSeconds}.${body}`);
  const signatures: string[] = [];
  if (keys.hmacSecret !== undefined) {
    const key = hmacKeyBytes(keys.hmacSecret);
    signatures.push(`v1,${createHmac('sha256', key).update(content).digest('base64')}`);
  }
  if (keys.ed25519 !== undefined)
    signatures.push(`v1a,${sign(null, content, keys.ed25519).toString('base64')}`);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    ...(signatures.length > 0 ? { 'webhook-signature': signatures.join(' ') } : {}),
  };
}

/** The bytes of a `whsec_` secret; throws with a message fit for a configuration error. */
export function hmacKeyBytes(secret: string): Buffer {
  if (!secret.startsWith('whsec_'))
    throw new Error('a webhook secret starts with whsec_ (Standard Webhooks)');
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  if (key.length < 24 || key.length > 64) throw new Error('a webhook secret holds 24 to 64 bytes (base64)');
  return key;
}

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * An Ed25519 signing key from a PKCS#8 PEM or the Standard Webhooks `whsk_<base64>` form (the 32-byte seed, or the
 * 64-byte seed-and-public-key). Throws with a message fit for a configuration error.
 */
export function ed25519SigningKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  if (trimmed.startsWith('whsk_')) {
    const raw = Buffer.from(trimmed.slice('whsk_'.length), 'base64');
    if (raw.length !== 32 && raw.length !== 64) throw new Error('a whsk_ key holds 32 or 64 bytes (base64)');
    key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, raw.subarray(0, 32)]),
      format: 'der',
      type: 'pkcs8',
    });
  } else {
    try {
      key = createPrivateKey(trimmed);
    } catch {
      throw new Error('expected an Ed25519 private key (PKCS#8 PEM or whsk_<base64>)');
    }
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the v1a signing key must be an Ed25519 key');
  return key;
}
