/**
 * The person behind a principal. A principal is one account (`issuer#subject`); one human may hold several — at two
 * trusted issuers, or twice at one. Separation of duties counts humans, so phigate links accounts that share what
 * names a human: an e-mail address the issuer verified, or a configured person claim (an employee number). Two
 * principals are one person when they have the same id or any person key in common.
 *
 * Pure: keys are derived from claims already verified; the access module turns them into keyed tokens before they
 * are stored or audited (an e-mail address is not something the audit log holds).
 *
 * Normalisation errs towards linking: two keys that a mail system would deliver to one mailbox must be equal, and
 * a key that links two different people only ever refuses an approval — it never grants one.
 */
import { domainToASCII } from 'node:url';

/** `email`, or `claim:<name>` for a configured person claim. */
export type PersonKeyKind = 'email' | `claim:${string}`;

export interface PersonKey {
  readonly kind: PersonKeyKind;
  /** Normalised: equal values name the same human. */
  readonly value: string;
}

/** What person keys are made from: the principal's e-mail and the configured person claims its token carried. */
export interface PersonClaims {
  readonly email: string | undefined;
  readonly emailVerified?: boolean | undefined;
  /** Configured claim name → value, only for claims present with a usable value. */
  readonly personClaims?: Readonly<Record<string, string>> | undefined;
}

/** RFC 5321 caps a path at 256 octets; anything longer is not an address we can compare. */
const MAX_EMAIL_LENGTH = 254;
/** Mail systems that ignore dots in the local part and treat the two domains as one mailbox. */
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * The form of an e-mail address under which two spellings of one mailbox compare equal, or undefined when the text
 * is not an address. Lower-cases all of it (the local part is case-sensitive in RFC 5321, but no mail system in
 * practice delivers `Alice@` and `alice@` to two people), drops a `+tag` sub-address (Gmail, Outlook, Fastmail,
 * Proton and Postfix's default all deliver `alice+x@` to `alice@`), writes the domain in ASCII (IDNA) without a
 * trailing dot, and for Gmail also drops dots in the local part and reads `googlemail.com` as `gmail.com`.
 */
export function normaliseEmail(text: string): string | undefined {
  const trimmed = text.normalize('NFC').trim().toLowerCase();
  if (trimmed.length === 0 || trimmed.length > MAX_EMAIL_LENGTH) return undefined;
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return undefined;
  // Whitespace, control characters or a second '@' mean this is not one plain address: do not guess.
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(trimmed) || trimmed.indexOf('@') !== at) return undefined;
  let local = trimmed.slice(0, at);
  let domain = trimmed.slice(at + 1).replace(/\.$/, '');
  domain = domainToASCII(domain) || domain;
  if (domain.length === 0) return undefined;
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (GMAIL_DOMAINS.has(domain)) {
    domain = 'gmail.com';
    local = local.replaceAll('.', '');
  }
  return local.length > 0 ? `${local}@${domain}` : undefined;
}

/**
 * A configured person claim's value as a key, or undefined when it has no usable value: a non-empty string (trimmed,
 * NFC) or an integer (employee numbers are often JSON numbers), at most 256 characters. Values are compared exactly
 * otherwise: an identifier an HR system assigns has one spelling.
 */
export function personClaimValue(value: unknown): string | undefined {
  const text =
    typeof value === 'string'
      ? value.normalize('NFC').trim()
      : typeof value === 'number' && Number.isSafeInteger(value)
        ? String(value)
        : undefined;
  return text !== undefined && text.length > 0 && text.length <= 256 ? text : undefined;
}

/**
 * The person keys of a principal: its e-mail only when the issuer verified it (`email_verified: true`; an
 * unverified address is whatever the user typed, and would let anyone link to — or stay apart from — anyone), and
 * each configured person claim its token carried. Every trusted issuer is trusted to assert these for its users.
 */
export function personKeysOf(claims: PersonClaims): readonly PersonKey[] {
  const keys: PersonKey[] = [];
  if (claims.emailVerified === true && claims.email !== undefined) {
    const email = normaliseEmail(claims.email);
    if (email !== undefined) keys.push({ kind: 'email', value: email });
  }
  for (const [name, raw] of Object.entries(claims.personClaims ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    const value = personClaimValue(raw);
    if (value !== undefined) keys.push({ kind: `claim:${name}`, value });
  }
  return Object.freeze(keys);
}

/**
 * The kind of a stored person key, written `<kind>:<token>` (the token is base64url, so it has no ':' and the kind
 * is everything before the last one).
 */
export function personKeyKind(stored: string): string {
  const colon = stored.lastIndexOf(':');
  return colon > 0 ? stored.slice(0, colon) : 'unknown';
}
