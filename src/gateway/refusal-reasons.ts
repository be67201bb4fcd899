/**
 * The reason codes of refused gateway connections, as they appear in the audit log (`auth.reject` for someone not
 * yet known, `session.refuse` for a known person) and in the reports and alerts that match on them.
 */
export const GATEWAY_REFUSAL = Object.freeze({
  /** A plaintext startup while TLS is required. */
  tlsRequired: 'gateway.tls-required',
  /** The password was not a valid token of that user. */
  password: 'gateway.password',
  /** The database name is no policy resource. */
  unknownResource: 'gateway.unknown-resource',
  /** The person holds no active grant on the resource. */
  noActiveGrant: 'gateway.no-active-grant',
  /** Over `gateway.maxConnections`: the gateway as a whole is full. */
  gatewayFull: 'gateway.too-many-connections',
  /** Over `gateway.maxPreAuthPerAddress`: too many connections from one address still signing in. */
  preAuthLimit: 'gateway.preauth-limit',
  /** A CancelRequest whose key names no session (a guess, or a session that has ended). */
  cancelUnknown: 'gateway.cancel-unknown',
  /** Bytes that are no valid startup: bad lengths, unknown protocol, bad parameters, a bad password message. */
  startupMalformed: 'gateway.startup-malformed',
  /** The grant already has its role's `maxConnections` sessions. */
  grantConnectionLimit: 'gateway.grant-connection-limit',
});

export type GatewayRefusalCode = (typeof GATEWAY_REFUSAL)[keyof typeof GATEWAY_REFUSAL];

/**
 * Refusals anyone can cause again and again without learning anything: recorded once per address, reason and
 * minute, with the count of repeats (audit/refusal-recorder.ts), so a flood cannot flood the audit log.
 */
export const REPEATABLE_REFUSALS: ReadonlySet<string> = new Set<GatewayRefusalCode>([
  GATEWAY_REFUSAL.gatewayFull,
  GATEWAY_REFUSAL.preAuthLimit,
  GATEWAY_REFUSAL.cancelUnknown,
  GATEWAY_REFUSAL.startupMalformed,
]);
