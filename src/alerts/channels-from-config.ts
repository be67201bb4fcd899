/**
 * Builds the configured channels, reading their secrets and TLS files at start-up: a missing variable, an unreadable
 * file or a malformed key stops phigate with a message that names the channel and where the secret was looked for,
 * never the secret. Plain-text transports (http://, SMTP without TLS) are allowed to loopback addresses only.
 */
import { readFileSync } from 'node:fs';
import { hostname as machineName } from 'node:os';
import type { AlertChannelConfig, SecretRef } from '../config/alerts-schema.js';
import type { Clock } from '../lib/clock.js';
import { PhigateError } from '../lib/errors.js';
import { fileProblem } from '../lib/file-problem.js';
import type { AlertChannel } from './channel.js';
import { createEmailChannel } from './email-channel.js';
import { createSyslogChannel } from './syslog-channel.js';
import { createWebhookChannel } from './webhook-channel.js';
import { ed25519SigningKey, hmacKeyBytes } from './webhook-signature.js';

export interface ChannelContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly version: string;
  readonly attemptTimeoutMs: number;
}

const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function problem(channel: string, message: string, cause?: unknown): PhigateError {
  return new PhigateError(
    'invalid',
    'config.invalid',
    `invalid configuration: alerts.channels.${channel}: ${message}`,
    { channel },
    { cause },
  );
}

function readSecret(ref: SecretRef, channel: string, what: string, env: ChannelContext['env']): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value.trim() === '') {
      throw problem(channel, `${what}: the environment variable ${ref.env} is not set`);
    }
    return value.trim();
  }
  return readText(ref.file, channel, what);
}

function readText(file: string, channel: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw problem(channel, `${what}: cannot read ${file} (${fileProblem(err)})`, err);
  }
}

function parsed<T>(channel: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw problem(channel, `${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function buildChannels(
  configs: Readonly<Record<string, AlertChannelConfig>>,
  context: ChannelContext,
): AlertChannel[] {
  return Object.entries(configs).map(([name, c]) => buildChannel(name, c, context));
}

function buildChannel(name: string, c: AlertChannelConfig, context: ChannelContext): AlertChannel {
  const file = (p: string | undefined, what: string): string | undefined =>
    p === undefined ? undefined : readText(p, name, what);
  switch (c.type) {
    case 'webhook': {
      const url =
        c.url === undefined
          ? PAGERDUTY_EVENTS_URL
          : typeof c.url === 'string'
            ? c.url
            : readSecret(c.url, name, 'url', context.env);
      const parsedUrl = parsed(name, 'url', () => new URL(url));
      if (
        parsedUrl.protocol !== 'https:' &&
        !(parsedUrl.protocol === 'http:' && LOOPBACK.has(parsedUrl.hostname))
      ) {
        throw problem(
          name,
          'url: alerts leave phigate over https only (http:// is allowed to loopback addresses)',
        );
      }
      const secret = c.secret === undefined ? undefined : readSecret(c.secret, name, 'secret', context.env);
      if (secret !== undefined) parsed(name, 'secret', () => hmacKeyBytes(secret));
      const signingKey =
        c.signingKey === undefined
          ? undefined
          : parsed(name, 'signingKey', () =>
              ed25519SigningKey(readSecret(c.signingKey!, name, 'signingKey', context.env)),
            );
      return createWebhookChannel({
        name,
        url,
        format: c.format,
        hmacSecret: secret,
        ed25519: signingKey,
        routingKey:
          c.routingKey === undefined ? undefined : readSecret(c.routingKey, name, 'routingKey', context.env),
        source: machineName(),
        userAgent: `phigate/${context.version}`,
        clock: context.clock,
      });
    }
    case 'syslog':
      if ((c.certFile === undefined) !== (c.keyFile === undefined)) {
        throw problem(name, 'certFile and keyFile go together (mutual TLS)');
      }
      return createSyslogChannel({
        name,
        host: c.host,
        port: c.port,
        format: c.format,
        header: {
          facility: c.facility,
          hostname: c.hostname ?? machineName(),
          appName: c.appName,
          sdId: c.sdId,
          version: context.version,
        },
        ca: file(c.caFile, 'caFile'),
        servername: c.servername,
        cert: file(c.certFile, 'certFile'),
        key: file(c.keyFile, 'keyFile'),
      });
    case 'email':
      if (c.security === 'none' && !LOOPBACK.has(c.host)) {
        throw problem(
          name,
          'security: none is allowed to a loopback relay only (alerts never cross a network in clear)',
        );
      }
      if ((c.username === undefined) !== (c.password === undefined)) {
        throw problem(name, 'username and password go together');
      }
      return createEmailChannel({
        name,
        host: c.host,
        port: c.port,
        security: c.security,
        ca: file(c.caFile, 'caFile'),
        servername: c.servername,
        auth:
          c.username !== undefined && c.password !== undefined
            ? { user: c.username, pass: readSecret(c.password, name, 'password', context.env) }
            : undefined,
        from: c.from,
        to: c.to,
        messageIdDomain: c.from.split('@')[1] ?? 'phigate.invalid',
        timeoutMs: context.attemptTimeoutMs,
      });
  }
}
