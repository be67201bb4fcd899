/**
 * Syslog over TLS (RFC 5425): one connection per attempt, the octet-counted message, then a clean close. Hand-written
 * on node:tls because the maintained npm syslog clients either speak UDP/plain TCP only or frame with newlines (RFC
 * 6587's non-transparent framing), which a message cannot be proven not to break; RFC 5425 framing is one line here.
 *
 * TCP syslog has no application acknowledgement: an attempt counts as delivered when the server has taken the bytes
 * and closed the TLS session cleanly after our close_notify.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { DeliveryFailure, type AlertChannel } from './channel.js';
import { octetCounted, syslogMessage, type SyslogFormat, type SyslogHeader } from './syslog-format.js';

export interface SyslogChannelOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly format: SyslogFormat;
  readonly header: SyslogHeader;
  /** PEM CA certificates the server's certificate must chain to (default: the system's). */
  readonly ca?: string | undefined;
  /** Name the certificate must carry (default: host). */
  readonly servername?: string | undefined;
  /** Client certificate and key (PEM), for servers that require mutual TLS. */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export function createSyslogChannel(options: SyslogChannelOptions): AlertChannel {
  return {
    name: options.name,
    type: 'syslog',
    deliver(message, signal) {
      const frame = octetCounted(syslogMessage(options.format, message, options.header));
      return new Promise<void>((resolve, reject) => {
        const socket = tls.connect({
          host: options.host,
          port: options.port,
          // SNI carries host names only (RFC 6066); an IP address is still checked against the certificate.
          servername: options.servername ?? (isIP(options.host) ? undefined : options.host),
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          minVersion: 'TLSv1.2',
        });
        let sent = false;
        const onAbort = (): void => {
          socket.destroy();
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const done = (err?: Error): void => {
          signal.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else if (sent) resolve();
          else
            reject(
              new DeliveryFailure('the syslog server closed the connection before the message was sent'),
            );
        };
        socket.once('secureConnect', () => {
          socket.end(frame, () => (sent = true));
        });
        socket.once('error', (err: Error) => {
          socket.destroy();
          done(err);
        });
        socket.once('close', (hadError) => {
          if (!hadError) done();
        });
        // Whatever the server says is not ours to read; keep the stream flowing so that 'close' comes.
        socket.resume();
      });
    },
  };
}
