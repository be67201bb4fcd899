/**
 * The gateway's side of connection startup, up to the point where a client is known, authenticated and holds an
 * active grant for the database it names: TLS negotiation (required unless plaintext is explicitly allowed),
 * GSSAPI encryption declined, cleartext password over TLS (the password is a phigate connection token or an OIDC
 * access token), the grant check. Every refusal is a FATAL ErrorResponse with the SQLSTATE clients expect and a
 * message that says what to do; authentication and grant refusals are audited.
 *
 * What happens after (the upstream connection as the grant's role, the relay) is the caller's.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import {
  authenticationCleartextPassword,
  errorResponse,
  SSL_ACCEPT,
  SSL_REFUSE,
  type ErrorFields,
} from './backend-messages.js';
import { decodeFrontend } from './frontend-messages.js';
import { PacketReader } from './packet-reader.js';
import { ProtocolError } from './protocol-error.js';
import { parseStartupPacket, type StartupPacket } from './startup-packets.js';

export type Refusal = {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
};

export interface ConnectDeps<P, G> {
  /** TLS for clients; undefined answers SSLRequest with 'N' (only sensible with allowPlaintext, for development). */
  readonly tls: SecureContext | undefined;
  readonly allowPlaintext: boolean;
  /** How long the client may take for each step of the handshake. */
  readonly handshakeTimeoutMs?: number;
  /** Verifies the password for the user name; throws when it does not hold. */
  authenticate(user: string, password: string): Promise<P>;
  /** The active grant that lets this person into this database, or why not. */
  authorize(principal: P, database: string): Promise<{ readonly ok: true; readonly grant: G } | Refusal>;
  /** A CancelRequest arrived with these keys (the gateway's own, handed out by the relay). */
  onCancel?(processId: number, secretKey: number): void;
  /** Records an authentication or authorization refusal (with the address it came from). */
  recordRefusal(refusal: {
    readonly reasonCode: string;
    readonly user: string | undefined;
    readonly database: string | undefined;
    readonly clientAddress: string;
    /** Set when the person was authenticated and then refused (no grant). */
    readonly principal?: P;
  }): Promise<void>;
}

export interface AcceptedConnection<P, G> {
  /** The client's socket (TLS when negotiated), with nothing of it read beyond the password message. */
  readonly socket: Duplex;
  readonly principal: P;
  readonly grant: G;
  readonly database: string;
  readonly parameters: ReadonlyMap<string, string>;
  readonly tls: boolean;
}

function fatal(socket: Duplex, e: Omit<ErrorFields, 'severity'>): void {
  socket.end(errorResponse({ severity: 'FATAL', ...e }));
}

export async function acceptConnection<P, G>(
  raw: Socket,
  deps: ConnectDeps<P, G>,
): Promise<AcceptedConnection<P, G> | undefined> {
  const timeout = deps.handshakeTimeoutMs ?? 10_000;
  const clientAddress = raw.remoteAddress ?? 'unknown';
  let socket: Duplex = raw;
  let reader = new PacketReader(raw);
  let tls = false;
  try {
    let packet: StartupPacket;
    for (;;) {
      packet = parseStartupPacket((await reader.next(timeout)).body);
      if (packet.kind === 'gssenc-request') {
        socket.write(SSL_REFUSE);
        continue;
      }
      if (packet.kind === 'ssl-request') {
        if (tls) throw new ProtocolError('SSLRequest inside TLS');
        if (deps.tls === undefined) {
          socket.write(SSL_REFUSE);
          continue;
        }
        // Bytes sent after SSLRequest and before the handshake would be read as if they came over TLS: refuse them.
        if (reader.pending > 0)
          throw new ProtocolError('data received after SSLRequest before the TLS handshake');
        reader.detach();
        raw.write(SSL_ACCEPT);
        const secure = new TLSSocket(raw, { isServer: true, secureContext: deps.tls });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new ProtocolError('TLS handshake timed out', '08006')),
            timeout,
          );
          secure.once('secure', () => {
            clearTimeout(timer);
            resolve();
          });
          secure.once('error', (err: Error) => {
            clearTimeout(timer);
            reject(err);
          });
        });
        socket = secure;
        reader = new PacketReader(secure);
        tls = true;
        continue;
      }
      break;
    }
    if (packet.kind === 'cancel') {
      // The keys are the gateway's own; the caller maps them to the database's. No answer is sent, as in PostgreSQL.
      deps.onCancel?.(packet.processId, packet.secretKey);
      socket.end();
      return undefined;
    }
    if (!tls && !deps.allowPlaintext) {
      await deps.recordRefusal({
        reasonCode: 'gateway.tls-required',
        user: packet.user,
        database: packet.database,
        clientAddress,
      });
      fatal(socket, {
        code: '28000',
        message: 'phigate requires TLS: connect with sslmode=require (or stronger)',
      });
      return undefined;
    }

    reader.framer.startTyped();
    socket.write(authenticationCleartextPassword());
    const frame = await reader.next(timeout);
    if (String.fromCharCode(frame.type ?? 0) !== 'p') throw new ProtocolError('expected a password message');
    const message = decodeFrontend(frame.type!, frame.body);
    const password = message.type === 'password' ? passwordOf(message.body) : '';
    let principal: P;
    try {
      principal = await deps.authenticate(packet.user, password);
    } catch {
      await deps.recordRefusal({
        reasonCode: 'gateway.password',
        user: packet.user,
        database: packet.database,
        clientAddress,
      });
      fatal(socket, {
        code: '28P01',
        message: `password authentication failed for user "${printable(packet.user)}"`,
      });
      return undefined;
    }
    const decision = await deps.authorize(principal, packet.database);
    if (!decision.ok) {
      await deps.recordRefusal({
        reasonCode: decision.code,
        user: packet.user,
        database: packet.database,
        clientAddress,
        principal,
      });
      fatal(socket, {
        code: '28000',
        message: decision.message,
        ...(decision.hint ? { hint: decision.hint } : {}),
      });
      return undefined;
    }
    reader.detach();
    return {
      socket,
      principal,
      grant: decision.grant,
      database: packet.database,
      parameters: packet.parameters,
      tls,
    };
  } catch (err) {
    reader.detach();
    const e = err instanceof ProtocolError ? err : new ProtocolError('connection startup failed');
    if (!socket.destroyed) {
      fatal(socket, { code: e.sqlState, message: e.message });
      // end() lets the error reach the client; a peer that never reads is cut off shortly after.
      setTimeout(() => socket.destroy(), 1_000).unref();
    }
    return undefined;
  }
}

function passwordOf(body: Buffer): string {
  const end = body.indexOf(0);
  if (end !== body.length - 1) throw new ProtocolError('malformed password message');
  return body.toString('utf8', 0, end);
}

/** User names end up in messages: visible characters only, cut short. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
