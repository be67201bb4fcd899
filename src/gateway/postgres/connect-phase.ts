/**
 * The gateway's side of connection startup, up to the point where a client is known, authenticated and holds an
 * active grant for the database it names: TLS negotiation (required unless plaintext is explicitly allowed),
 * GSSAPI encryption declined, cleartext password over TLS (the password is a phigate connection token or an OIDC
 * access token), the grant check. Every refusal is a FATAL ErrorResponse with the SQLSTATE clients expect and a
 * message that says what to do; authentication and grant refusals are audited, and so are the refusals that only
 * show probing (malformed startup packets, CancelRequests with unknown keys), which the caller records bounded.
 * Once SSLRequest is answered `S` the client speaks TLS: a handshake that fails or times out is closed without a
 * word, since a plaintext ErrorResponse would only be garbage inside what the client reads as TLS.
 *
 * What happens after (the upstream connection as the grant's role, the relay) is the caller's.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { GATEWAY_REFUSAL } from '../refusal-reasons.js';
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
  /**
   * A CancelRequest arrived with these keys (the gateway's own, handed out by the relay); false when they name no
   * session, which is recorded as a refusal.
   */
  onCancel?(processId: number, secretKey: number): boolean;
  /** Records a refusal (with the address it came from): authentication, authorization, probing. */
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
  // Set from the `S` answer until the handshake completes: no plaintext may be written meanwhile.
  let handshaking: TLSSocket | undefined;
  let packet: StartupPacket | undefined;
  try {
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
        handshaking = secure;
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
        handshaking = undefined;
        socket = secure;
        reader = new PacketReader(secure);
        tls = true;
        continue;
      }
      break;
    }
    if (packet.kind === 'cancel') {
      // The keys are the gateway's own; the caller maps them to the database's. No answer is sent, as in PostgreSQL.
      const known = deps.onCancel?.(packet.processId, packet.secretKey) ?? false;
      socket.end();
      if (!known)
        await deps.recordRefusal({
          reasonCode: GATEWAY_REFUSAL.cancelUnknown,
          user: undefined,
          database: undefined,
          clientAddress,
        });
      return undefined;
    }
    if (!tls && !deps.allowPlaintext) {
      await deps.recordRefusal({
        reasonCode: GATEWAY_REFUSAL.tlsRequired,
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
        reasonCode: GATEWAY_REFUSAL.password,
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
    if (handshaking !== undefined) {
      handshaking.on('error', () => undefined);
      handshaking.destroy();
      raw.destroy();
      return undefined;
    }
    const e = err instanceof ProtocolError ? err : new ProtocolError('connection startup failed');
    // Bytes that are no valid startup (08006 is the client going silent or away, not malformed bytes).
    if (err instanceof ProtocolError && err.sqlState !== '08006')
      await deps
        .recordRefusal({
          reasonCode: GATEWAY_REFUSAL.startupMalformed,
          user: packet?.kind === 'startup' ? packet.user : undefined,
          database: packet?.kind === 'startup' ? packet.database : undefined,
          clientAddress,
        })
        .catch(() => undefined);
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
