/**
 * A self-signed ECDSA P-256 certificate for development TLS (the demo's gateway), built with node:crypto alone so
 * that `npm ci && npm start` needs no openssl binary. A minimal DER encoder covers exactly what an X.509 v3
 * certificate needs (RFC 5280): the names are a single common name, the extensions a subjectAltName and
 * basicConstraints. Production deployments bring their own certificate.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

export interface SelfSignedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
const octetString = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);

/**
 * A non-negative DER INTEGER in its one minimal form (X.690 8.3.2): OpenSSL rejects a redundant leading zero
 * ("illegal padding"), and a leading byte with the high bit set needs a zero before it, or it would read as negative.
 */
function integer(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const bytes = unsigned.subarray(start);
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = part >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function commonName(cn: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and write the eight groups.
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

export function createSelfSignedCertificate(options: {
  readonly commonName: string;
  /** DNS names and IP addresses the certificate is valid for. */
  readonly altNames: readonly string[];
  readonly validDays?: number;
  readonly now?: Date;
  /** Unsigned big-endian serial number; 16 random bytes when not given. */
  readonly serialNumber?: Buffer;
}): SelfSignedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + (options.validDays ?? 365) * 86_400_000);
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const name = commonName(options.commonName);
  const altNames = sequence(
    ...options.altNames.map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii')))),
  );
  const serial = options.serialNumber ?? randomBytes(16);
  if (serial.length === 0 || serial.length > 20 || serial.every((b) => b === 0)) {
    // RFC 5280 4.1.2.2: a positive integer of at most 20 octets.
    throw new RangeError('a certificate serial number is 1 to 20 octets and not zero');
  }
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        sequence(oid('2.5.29.17'), octetString(altNames)),
        // A self-signed certificate is its own trust anchor: clients that verify it use it as their CA.
        sequence(
          oid('2.5.29.19'),
          tlv(0x01, Buffer.from([0xff])),
          octetString(sequence(tlv(0x01, Buffer.from([0xff])))),
        ),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const der = sequence(tbs, ecdsaWithSha256, bitString(signature));
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
