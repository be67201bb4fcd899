/**
 * The gateway's login to the protected database as a grant's role: TCP (or TLS with verify-full), startup, SCRAM,
 * then the server's parameters and cancel key, up to its first ReadyForQuery. What comes after is the relay's.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { UpstreamTls } from '../../provisioner/upstream-tls.js';
import { parseErrorFields } from './backend-messages.js';
import { ByteReader } from './byte-reader.js';
import * as fe from './frontend-encode.js';
import { MessageWriter } from './message-writer.js';
import { PacketReader } from './packet-reader.js';
import { ProtocolError } from './protocol-error.js';
import { SCRAM_MECHANISM, startScram } from './scram-client.js';

export interface UpstreamOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** TLS to the database; `rejectUnauthorized` stays on (verify-full): give `ca` and `servername`. */
  readonly tls?: UpstreamTls | undefined;
  readonly timeoutMs?: number;
}

export interface UpstreamConnection {
  readonly socket: Duplex;
  readonly parameters: ReadonlyMap<string, string>;
  readonly backendKey: { readonly processId: number; readonly secretKey: number } | undefined;
}

/** An error the upstream server sent during login (wrong password, no such database…). */
export class UpstreamRefused extends Error {
  override readonly name = 'UpstreamRefused';
  constructor(
    message: string,
    readonly sqlState: string,
  ) {
    super(message);
  }
}

/** SSLRequest, then a TLS handshake that verifies the server's certificate and name (verify-full). */
async function startTls(tcp: Socket, tls: NonNullable<UpstreamOptions['tls']>): Promise<Duplex> {
  tcp.write(fe.sslRequest());
  const answer = await new Promise<Buffer>((resolve, reject) => {
    tcp.once('data', resolve);
    tcp.once('error', reject);
  });
  if (answer.length !== 1 || answer[0] !== 0x53) throw new ProtocolError('the database refused TLS');
  const secure = tlsConnect({ socket: tcp, rejectUnauthorized: true, ...tls });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return secure;
}

export async function connectUpstream(options: UpstreamOptions): Promise<UpstreamConnection> {
  const timeout = options.timeoutMs ?? 10_000;
  const tcp = netConnect(options.port, options.host);
  tcp.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    tcp.once('connect', resolve);
    tcp.once('error', reject);
  });
  let socket: Duplex = tcp;
  try {
    if (options.tls) socket = await startTls(tcp, options.tls);
    const reader = new PacketReader(socket);
    reader.framer.startTyped();
    socket.write(
      fe.startupMessage({
        user: options.user,
        database: options.database,
        application_name: 'phigate-gateway',
      }),
    );
    const parameters = new Map<string, string>();
    let backendKey: UpstreamConnection['backendKey'];
    let scram: ReturnType<typeof startScram> | undefined;
    for (;;) {
      const frame = await reader.next(timeout);
      const type = String.fromCharCode(frame.type ?? 0);
      const r = new ByteReader(frame.body, `upstream ${type}`);
      if (type === 'E') {
        const e = parseErrorFields(frame.body);
        throw new UpstreamRefused(e.message, e.code);
      }
      if (type === 'R') {
        const code = r.int32();
        if (code === 0) continue;
        if (code === 3) {
          socket.write(fe.passwordMessage(options.password));
        } else if (code === 10) {
          const mechanisms: string[] = [];
          for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
          if (!mechanisms.includes(SCRAM_MECHANISM))
            throw new ProtocolError('the database offers no SCRAM-SHA-256');
          scram = startScram(options.password);
          const first = Buffer.from(scram.clientFirst);
          socket.write(
            new MessageWriter().cstring(SCRAM_MECHANISM).int32(first.length).bytes(first).finish('p'),
          );
        } else if (code === 11 && scram) {
          socket.write(
            new MessageWriter()
              .bytes(Buffer.from(scram.respond(r.bytes(r.remaining).toString())))
              .finish('p'),
          );
        } else if (code === 12 && scram) {
          scram.verify(r.bytes(r.remaining).toString());
        } else {
          throw new ProtocolError(
            `the database asks for authentication method ${code}, which the gateway does not use`,
          );
        }
      } else if (type === 'S') {
        parameters.set(r.cstring(), r.cstring());
      } else if (type === 'K') {
        backendKey = { processId: r.int32(), secretKey: r.int32() };
      } else if (type === 'Z') {
        reader.detach();
        return { socket, parameters, backendKey };
      } else if (type !== 'N') {
        throw new ProtocolError(`unexpected message ${type} from the database during login`);
      }
    }
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * Asks the database to cancel what a backend is running: a new connection carrying only a CancelRequest (over TLS
 * when the upstream uses TLS). The server answers nothing; the outcome shows on the original connection.
 */
export async function sendCancelRequest(
  options: Pick<UpstreamOptions, 'host' | 'port' | 'tls' | 'timeoutMs'>,
  key: { readonly processId: number; readonly secretKey: number },
): Promise<void> {
  const tcp = netConnect(options.port, options.host);
  tcp.setTimeout(options.timeoutMs ?? 5_000, () => tcp.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('connect', resolve);
      tcp.once('error', reject);
    });
    const socket: Duplex = options.tls ? await startTls(tcp, options.tls) : tcp;
    await new Promise<void>((resolve) => socket.end(fe.cancelRequest(key.processId, key.secretKey), resolve));
    // The server closes its side once it has read the request.
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.resume();
    });
  } finally {
    tcp.destroy();
  }
}
