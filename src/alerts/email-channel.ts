/**
 * E-mail through an SMTP relay (nodemailer). STARTTLS is required unless the configuration says otherwise (or uses
 * implicit TLS): an alert never crosses the network in clear. The Message-ID is the alert's, the same on every
 * retry, so mail systems and people can tell a repeat from a new alert.
 */
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { DeliveryFailure, type AlertChannel } from './channel.js';
import { emailSubject, emailText } from './email-format.js';

export interface EmailChannelOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `starttls`: plain connection upgraded (required); `tls`: implicit TLS (port 465); `none`: development only. */
  readonly security: 'starttls' | 'tls' | 'none';
  readonly ca?: string | undefined;
  readonly servername?: string | undefined;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  readonly from: string;
  readonly to: readonly string[];
  /** Domain of the Message-ID. */
  readonly messageIdDomain: string;
  readonly timeoutMs: number;
}

export function createEmailChannel(options: EmailChannelOptions): AlertChannel {
  const transport = nodemailer.createTransport({
    host: options.host,
    port: options.port,
    secure: options.security === 'tls',
    requireTLS: options.security === 'starttls',
    ignoreTLS: options.security === 'none',
    auth: options.auth ? { user: options.auth.user, pass: options.auth.pass } : undefined,
    tls: {
      ca: options.ca, // SNI carries host names only (RFC 6066); an IP address is still checked against the certificate.
      servername: options.servername ?? (isIP(options.host) ? undefined : options.host),
      minVersion: 'TLSv1.2',
    },
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  });
  return {
    name: options.name,
    type: 'email',
    async deliver(message, signal) {
      const sending = transport.sendMail({
        from: options.from,
        to: [...options.to],
        subject: emailSubject(message),
        text: emailText(message),
        messageId: `<${message.messageId}@${options.messageIdDomain}>`,
        headers: { 'X-Phigate-Alert-Id': String(message.alertId), 'X-Phigate-Severity': message.severity },
      });
      // nodemailer takes no AbortSignal: stop waiting for it (its own time-outs end the connection).
      const aborted = new Promise<never>((_, reject) => {
        const fail = (): void =>
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal.aborted) fail();
        else signal.addEventListener('abort', fail, { once: true });
      });
      const info = await Promise.race([sending, aborted]);
      if (info.rejected.length > 0)
        throw new DeliveryFailure(`the SMTP server refused ${info.rejected.length} recipient(s)`);
    },
    close: async () => transport.close(),
  };
}
