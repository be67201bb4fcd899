/**
 * `alerts:` in phigate.yaml: named delivery channels, the routes that send alert kinds and severities to them, and
 * how hard delivery tries. Secrets (webhook signing keys, chat webhook URLs, PagerDuty routing keys, SMTP passwords)
 * are never written in the file: they are named, `{ env: NAME }` or `{ file: path }`, and read at start-up.
 */
import { z } from 'zod';
import { ALERT_KIND_NAMES, ALERT_SEVERITIES } from '../alerts/alert-kinds.js';
import { SYSLOG_FORMATS } from '../alerts/syslog-format.js';
import { WEBHOOK_FORMATS } from '../alerts/webhook-templates.js';
import { parseDuration } from '../lib/duration.js';

const durationText = z.string().refine((t) => {
  try {
    parseDuration(t);
    return true;
  } catch {
    return false;
  }
}, 'expected a duration such as 500ms, 30s, 15m, 2h or 1d');

export const secretRefSchema = z.union(
  [
    z.strictObject({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'),
    }),
    z.strictObject({ file: z.string().min(1) }),
  ],
  { error: 'expected { env: NAME } or { file: path }: secrets are never written in phigate.yaml' },
);
export type SecretRef = z.output<typeof secretRefSchema>;

const hostName = z.string().min(1).max(253);
const port = z.number().int().min(1).max(65535);
const email = z.email();

const webhookChannelSchema = z
  .strictObject({
    type: z.literal('webhook'),
    /** `json` (phigate's own, for SOAR tools and custom receivers), `slack`, `teams` or `pagerduty`. */
    format: z.enum(WEBHOOK_FORMATS).default('json'),
    /** The endpoint; a secret reference for chat webhooks, whose URL is their credential. */
    url: z.union([z.url({ protocol: /^https?$/ }), secretRefSchema]).optional(),
    /** Standard Webhooks v1 secret (`whsec_…`, HMAC-SHA256). */
    secret: secretRefSchema.optional(),
    /** Standard Webhooks v1a signing key (Ed25519: PKCS#8 PEM or `whsk_…`). */
    signingKey: secretRefSchema.optional(),
    /** PagerDuty Events API v2 integration (routing) key. */
    routingKey: secretRefSchema.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.url === undefined && c.format !== 'pagerduty')
      ctx.addIssue({ code: 'custom', message: 'url is required' });
    if ((c.format === 'slack' || c.format === 'teams') && typeof c.url === 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: `a ${c.format} incoming-webhook URL is its credential: give it as { env: NAME } or { file: path }`,
      });
    }
    if (c.format === 'json' && c.secret === undefined && c.signingKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a json webhook is signed: set secret (v1, whsec_…) or signingKey (v1a, Ed25519), or both',
      });
    }
    if (c.format === 'pagerduty' && c.routingKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['routingKey'],
        message: 'a pagerduty webhook needs its routingKey',
      });
    }
  });

const syslogChannelSchema = z.strictObject({
  type: z.literal('syslog'),
  host: hostName,
  /** 6514 is syslog over TLS (RFC 5425). */
  port: port.default(6514),
  format: z.enum(SYSLOG_FORMATS).default('rfc5424'),
  /** CA certificate(s) (PEM) the server's certificate must chain to; default: the system's. */
  caFile: z.string().min(1).optional(),
  servername: hostName.optional(),
  /** Client certificate and key (PEM) for servers that require mutual TLS. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  /** Facility number (default 10: authpriv, security/authorization). */
  facility: z.number().int().min(0).max(23).default(10),
  /** HOSTNAME field; default: this machine's name. */
  hostname: z.string().min(1).max(255).optional(),
  appName: z.string().min(1).max(48).default('phigate'),
  /** SD-ID; replace 32473 (the documentation enterprise number) with your organisation's. */
  sdId: z.string().min(1).max(32).default('phigate@32473'),
});

const emailChannelSchema = z.strictObject({
  type: z.literal('email'),
  host: hostName,
  port: port.default(587),
  /** `starttls` (required: refused if the server does not offer it), `tls` (implicit, port 465), `none` (loopback only). */
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  caFile: z.string().min(1).optional(),
  servername: hostName.optional(),
  username: z.string().min(1).optional(),
  password: secretRefSchema.optional(),
  from: email,
  to: z.array(email).min(1),
});

const channelSchema = z.discriminatedUnion('type', [
  webhookChannelSchema,
  syslogChannelSchema,
  emailChannelSchema,
]);
export type AlertChannelConfig = z.output<typeof channelSchema>;

const routeSchema = z.strictObject({
  /** Alert kinds; unset: every kind. */
  kinds: z
    .array(z.enum(ALERT_KIND_NAMES as [string, ...string[]]))
    .min(1)
    .optional(),
  /** This severity and above; unset: every severity. */
  minSeverity: z.enum(ALERT_SEVERITIES).optional(),
  channels: z.array(z.string().min(1)).min(1),
});

const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const alertsSchema = z
  .strictObject({
    channels: z.record(z.string(), channelSchema).default({}),
    routes: z.array(routeSchema).default([]),
    /** Attempts per alert and channel before it is a dead letter (replay: `phigate alerts redeliver`). */
    maxAttempts: z.number().int().min(1).max(1000).default(12),
    /** Backoff between attempts: doubles from `initial` up to `max`, with jitter. */
    backoff: z
      .strictObject({ initial: durationText.default('10s'), max: durationText.default('30m') })
      .default({ initial: '10s', max: '30m' }),
    /** One attempt's limit (connect, TLS, answer). */
    attemptTimeout: durationText.default('10s'),
    /** Deliveries in flight at once per replica. */
    concurrency: z.number().int().min(1).max(256).default(8),
  })
  .superRefine((a, ctx) => {
    const names = Object.keys(a.channels);
    for (const name of names) {
      if (!CHANNEL_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['channels', name],
          message: 'a channel name is lower-case letters, digits, - and _ (at most 63)',
        });
      }
    }
    a.routes.forEach((r, i) =>
      r.channels.forEach((c, j) => {
        if (!Object.hasOwn(a.channels, c)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'channels', j],
            message: `no channel named ${c}`,
          });
        }
      }),
    );
    const routed = new Set(a.routes.flatMap((r) => r.channels));
    for (const name of names.filter((n) => !routed.has(n))) {
      ctx.addIssue({
        code: 'custom',
        path: ['channels', name],
        message: 'no route sends anything to this channel (add it to alerts.routes)',
      });
    }
    if (parseDuration(a.backoff.initial) > parseDuration(a.backoff.max)) {
      ctx.addIssue({
        code: 'custom',
        path: ['backoff'],
        message: 'backoff.initial is longer than backoff.max',
      });
    }
  })
  .default({
    channels: {},
    routes: [],
    maxAttempts: 12,
    backoff: { initial: '10s', max: '30m' },
    attemptTimeout: '10s',
    concurrency: 8,
  });
export type AlertsConfig = z.output<typeof alertsSchema>;

/** Resolves the file paths of the alerts section against the configuration file's directory. */
export function resolveAlertFiles(alerts: AlertsConfig, resolve: (p: string) => string): AlertsConfig {
  const ref = <T extends SecretRef | undefined>(r: T): T =>
    (r !== undefined && 'file' in r ? { file: resolve(r.file) } : r) as T;
  const file = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(p));
  const channels = Object.fromEntries(
    Object.entries(alerts.channels).map(([name, c]): [string, AlertChannelConfig] => {
      switch (c.type) {
        case 'webhook':
          return [
            name,
            {
              ...c,
              url: typeof c.url === 'object' ? ref(c.url) : c.url,
              secret: ref(c.secret),
              signingKey: ref(c.signingKey),
              routingKey: ref(c.routingKey),
            },
          ];
        case 'syslog':
          return [
            name,
            { ...c, caFile: file(c.caFile), certFile: file(c.certFile), keyFile: file(c.keyFile) },
          ];
        case 'email':
          return [name, { ...c, caFile: file(c.caFile), password: ref(c.password) }];
      }
    }),
  );
  return { ...alerts, channels };
}
