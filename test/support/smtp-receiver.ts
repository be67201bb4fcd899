/**
 * A real SMTP server (the `smtp-server` library) as the mail receiver of alert tests: STARTTLS with a self-signed
 * certificate made for the test, every accepted message kept with whether it arrived over TLS.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createSelfSignedCertificate } from '../../src/lib/self-signed-cert.js';

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
  readonly secure: boolean;
}

export interface SmtpReceiver {
  readonly port: number;
  readonly caPem: string;
  readonly received: ReceivedMail[];
  close(): Promise<void>;
}

/** `starttls: false` refuses STARTTLS (a server, or a man in the middle, that strips it). */
export async function startSmtpReceiver(options: { starttls?: boolean } = {}): Promise<SmtpReceiver> {
  const cert = createSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: false,
    key: cert.keyPem,
    cert: cert.certPem,
    authOptional: true,
    disabledCommands: options.starttls === false ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    caPem: cert.certPem,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
