/**
 * The shape of `phigate.yaml`. Every key has a safe default so that `phigate demo` runs with no file at all; the
 * production path sets `database.url`, `identity.issuers` and `policy.file`.
 */
import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';
import { alertsSchema } from './alerts-schema.js';

/** Durations are read by the one parser phigate has (lib/duration.ts): the same text means the same everywhere. */
const durationText = z.string().refine(isDuration, 'expected a duration such as 500ms, 30s, 15m, 2h or 1d');

function isDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

/** The milliseconds of a duration the schema has validated (`30s`, `15m`, `2h`, `1d`, combined, or ISO 8601). */
export function durationMs(text: string): number {
  return parseDuration(text);
}

export const issuerSchema = z.strictObject({
  /** Exact `iss` value; its discovery document is `${issuer}/.well-known/openid-configuration`. */
  issuer: z.url(),
  /** Exact `aud` value phigate's API expects in access tokens. */
  audience: z.string().min(1),
  /** Claim holding group names (string array). */
  groupsClaim: z.string().min(1).default('groups'),
  /** Claim holding the display name; falls back to `preferred_username`, then the subject. */
  nameClaim: z.string().min(1).default('name'),
  /** Accepted signature algorithms; anything else (including `none` and HMAC) is refused. */
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
    .min(1)
    .default(['RS256', 'ES256']),
  /** Bounded tolerance for `exp`/`nbf`/`iat` between our clock and the issuer's. */
  clockSkew: durationText.default('30s'),
  /**
   * `at+jwt` (RFC 9068) refuses ID tokens and other JWTs presented as access tokens. Set `any` only for an issuer
   * that cannot type its access tokens; `aud` must then differ from every client id.
   */
  accessTokenType: z.enum(['at+jwt', 'any']).default('at+jwt'),
  /** `amr` values that count as multi-factor (RFC 8176), and `acr` values that do. */
  mfa: z
    .strictObject({
      amr: z.array(z.string()).default(['mfa', 'otp', 'hwk', 'swk', 'sc', 'fpt', 'face']),
      acr: z.array(z.string()).default([]),
    })
    .default({ amr: ['mfa', 'otp', 'hwk', 'swk', 'sc', 'fpt', 'face'], acr: [] }),
  /** Minimum time between two JWKS downloads when a token names an unknown key (refetch storms). */
  jwksCooldown: durationText.default('30s'),
  /** Public client the CLI uses for the device authorization flow (`phigate login`). */
  cliClientId: z.string().min(1).default('phigate-cli'),
});

/**
 * Claims that cannot be person claims: the JWT's own (a `sub` is unique per issuer only, so equal subjects at two
 * issuers are not one person), and the e-mail claims, which link only when verified and are always used.
 */
const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'email',
  'email_verified',
]);

/** How the gateway reaches one protected database (secrets here, not in the policy). */
export const upstreamSchema = z.strictObject({
  /** Overrides the policy resource's `connection.host` / `port` / `database`. */
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).optional(),
  /**
   * The provisioning account (CREATEROLE, with grant option on what roles receive), as a PostgreSQL URL for the same
   * database. `adminUrlFile` reads it from a file instead (a mounted secret); one of the two is required.
   */
  adminUrl: z.string().min(1).optional(),
  adminUrlFile: z.string().min(1).optional(),
  /** TLS to the database: `disable`, or `verify-full` (certificate chain and host name checked). */
  tls: z
    .strictObject({
      mode: z.enum(['disable', 'verify-full']).default('disable'),
      /** PEM file of the CA that signed the database's certificate (verify-full). */
      caFile: z.string().min(1).optional(),
      /** Host name the certificate must name; defaults to `host`. */
      servername: z.string().min(1).optional(),
    })
    .default({ mode: 'disable' }),
});

const gatewaySchema = z
  .strictObject({
    /** Serve the PostgreSQL gateway next to the API. */
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(6543),
    /** Host name clients are told to connect to (`phigate connect`); defaults to `host`. */
    publicHost: z.string().min(1).optional(),
    /** Server certificate and key (PEM). Unset: a self-signed certificate is generated under dataDir. */
    tls: z
      .strictObject({ certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() })
      .default({}),
    /** Accept clients without TLS. Development only: tokens would cross the network in clear. */
    allowPlaintext: z.boolean().default(false),
    /** Time a client has for each step of the startup (TLS, password). */
    handshakeTimeout: durationText.default('10s'),
    /** Client connections at once; more are refused (53300). */
    maxConnections: z.number().int().min(1).max(100_000).default(2000),
    /**
     * Connections from one client address that may be signing in at once (TLS, startup, token, grant check); more
     * are refused (53300). Clients behind one NAT or a pooler that opens many connections at once share it.
     */
    maxPreAuthPerAddress: z.number().int().min(1).max(100_000).default(20),
    /**
     * Before a statement is forwarded, its audit record is `durable` (committed and flushed: nothing runs that a
     * crash could leave unrecorded; each statement waits for a WAL flush) or `queued` (sequenced in phigate's writer
     * and durable milliseconds later: much faster, and a crash can lose the records of the last statements).
     */
    auditWait: z.enum(['durable', 'queued']).default('durable'),
    /** Lifetime of the connection tokens `phigate connect` mints (never beyond the grant's end). */
    connectionTokenTtl: durationText.default('1h'),
    /**
     * How often active grants whose patients came from a care relation are looked up in it again; a grant with a
     * patient who left the relation ends (`care-relation-ended`).
     */
    careRelationRecheck: durationText
      .refine((t) => durationMs(t) >= 1000, 'expected at least 1s: each round queries the protected database')
      .default('1m'),
    /** Per policy resource name: how to reach and provision its database. */
    resources: z.record(z.string(), upstreamSchema).default({}),
  })
  .default({
    enabled: false,
    host: '127.0.0.1',
    port: 6543,
    tls: {},
    allowPlaintext: false,
    handshakeTimeout: '10s',
    maxConnections: 2000,
    maxPreAuthPerAddress: 20,
    auditWait: 'durable',
    connectionTokenTtl: '1h',
    careRelationRecheck: '1m',
    resources: {},
  });

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8740),
      /** Public base URL (for links in the docs page and the dev issuer); derived from host/port when unset. */
      publicUrl: z.url().optional(),
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(10 * 1024 * 1024)
        .default(64 * 1024),
      rateLimit: z
        .strictObject({
          /** Requests per principal (or per address before authentication) per window. */
          max: z.number().int().min(1).default(120),
          window: durationText.default('1m'),
        })
        .default({ max: 120, window: '1m' }),
    })
    .default({
      host: '127.0.0.1',
      port: 8740,
      bodyLimitBytes: 64 * 1024,
      rateLimit: { max: 120, window: '1m' },
    }),
  database: z
    .strictObject({
      /** External PostgreSQL ≥ 14 (production). Unset: phigate runs its own embedded server under dataDir. */
      url: z.string().min(1).optional(),
    })
    .default({}),
  /** Where embedded PostgreSQL, dev-issuer keys and other local state live. */
  dataDir: z.string().min(1).default('./.phigate'),
  policy: z
    .strictObject({
      /** Path of the policy YAML; relative paths are resolved against the config file's directory. */
      file: z.string().min(1).optional(),
      /** Reload when the file changes (SIGHUP always reloads). */
      watch: z.boolean().default(true),
    })
    .default({ watch: true }),
  identity: z
    .strictObject({
      issuers: z.array(issuerSchema).default([]),
      /** The built-in development issuer with demo users. Never for production: it signs any demo user in. */
      devIssuer: z.boolean().default(false),
      /**
       * Claims that name the human behind an account (e.g. `employee_number`), read from every trusted issuer's
       * tokens: two accounts with the same value, or the same verified e-mail, are one person for separation of
       * duties and quorums. Every trusted issuer is trusted to assert them; use claims users cannot edit.
       */
      personClaims: z
        .array(
          z
            .string()
            .min(1)
            .max(200)
            .refine((c) => !RESERVED_CLAIMS.has(c), {
              message:
                'a registered claim or the e-mail claims cannot name a person (the e-mail is always used)',
            }),
        )
        .max(10)
        .refine((cs) => new Set(cs).size === cs.length, 'a person claim is listed twice')
        .default([]),
    })
    .default({ issuers: [], devIssuer: false, personClaims: [] }),
  audit: z
    .strictObject({
      /** The log's name in signed checkpoints (visible ASCII, no spaces); distinguishes logs that share a key. */
      origin: z
        .string()
        .regex(/^[\x21-\x7e]{1,200}$/, 'expected 1–200 visible ASCII characters without spaces')
        .default('phigate-audit'),
      /**
       * File holding the HMAC key for patient and literal tokens (base64 of at least 32 random bytes). Unset: one is
       * generated under dataDir. Every replica must use the same key; the store remembers its id and refuses another.
       */
      hmacKeyFile: z.string().min(1).optional(),
      /** The HMAC key itself (base64), for deployments that pass secrets in the environment; wins over the file. */
      hmacKey: z.string().min(1).optional(),
      /** Ed25519 private key (PKCS#8 PEM) that signs checkpoints. Unset: one is generated under dataDir. */
      signingKeyFile: z.string().min(1).optional(),
      /** The signing key itself (PKCS#8 PEM), as for `hmacKey`; wins over the file. */
      signingKey: z.string().min(1).optional(),
      /**
       * The longest a batch of the audit writer waits for a signed checkpoint that covers it: the unsigned window
       * (docs/audit.md). Each checkpoint is also published to the witnesses.
       */
      checkpointDelay: durationText.default('250ms'),
      /**
       * How often events appended by others — control-plane transactions, other replicas — are checked and signed
       * when no batch of this replica's writer did so first (also on demand: POST /v1/audit/checkpoints).
       */
      checkpointInterval: durationText.default('1s'),
      /** Where signed checkpoints are also published, so that a rewrite of the whole database is caught. */
      witness: z
        .strictObject({
          /** Append-only files (one checkpoint after another). */
          files: z.array(z.string().min(1)).default([]),
          /** HTTP endpoints: checkpoints are POSTed as text/plain; GET returns every checkpoint kept. */
          urls: z.array(z.url()).default([]),
        })
        .default({ files: [], urls: [] }),
    })
    .default({
      origin: 'phigate-audit',
      checkpointDelay: '250ms',
      checkpointInterval: '1s',
      witness: { files: [], urls: [] },
    }),
  gateway: gatewaySchema,
  /** Alert delivery: channels, routes, retries (docs/alerts.md). */
  alerts: alertsSchema,
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** auto: human-readable lines on a terminal, JSON otherwise; json or pretty to choose. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .default({ level: 'info', format: 'auto' }),
});

export type Config = z.output<typeof configSchema>;
export type IssuerConfig = z.output<typeof issuerSchema>;
export type GatewayConfig = Config['gateway'];
export type UpstreamConfig = z.output<typeof upstreamSchema>;
