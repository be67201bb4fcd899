/** A raw PostgreSQL protocol client for gateway tests: TLS, login with a connection token, and reading answers. */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import * as fe from '../../src/gateway/postgres/frontend-encode.js';
import { RESOURCE, type GatewayFixture } from './gateway.js';

/** Everything the server sends until it closes the connection (or `ms` passes). */
export function readAll(socket: Socket | TLSSocket, ms = 5_000): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => resolve(Buffer.concat(chunks)), ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * A TCP connection to the gateway from `from` (any 127.x.y.z address reaches 127.0.0.1 on Linux: tests that count
 * per client address use their own), once the gateway has accepted it and answered its SSLRequest `S`.
 */
export async function openAnsweredS(port: number, from = '127.0.0.1'): Promise<Socket> {
  const tcp = connect({ port, host: '127.0.0.1', localAddress: from });
  await new Promise((resolve) => tcp.once('connect', resolve));
  tcp.write(fe.sslRequest());
  const answer = await new Promise<Buffer>((resolve) => tcp.once('data', resolve));
  assert.equal(answer.toString('latin1'), 'S');
  return tcp;
}

export async function openTls(port: number, from = '127.0.0.1'): Promise<TLSSocket> {
  const tcp = await openAnsweredS(port, from);
  const secure = tlsConnect({ socket: tcp, rejectUnauthorized: false });
  await new Promise((resolve) => secure.once('secureConnect', resolve));
  return secure;
}

/** Logs in over TLS with a connection token (of `grantId`, if given) and waits for the first ReadyForQuery. */
export async function session(
  f: GatewayFixture,
  port: number,
  user = 'dan',
  grantId?: string,
  from?: string,
): Promise<TLSSocket> {
  const { body } = await f.connection(user, grantId === undefined ? {} : { grantId });
  const s = await openTls(port, from);
  s.write(fe.startupMessage({ user, database: RESOURCE }));
  await new Promise((resolve) => s.once('data', resolve)); // AuthenticationCleartextPassword
  s.write(fe.passwordMessage(body.gateway.password));
  await untilReady(s);
  return s;
}

/** What the server sends up to and including its next ReadyForQuery. */
export function untilReady(s: Socket | TLSSocket): Promise<Buffer> {
  let seen = Buffer.alloc(0);
  return new Promise((resolve) => {
    const onData = (c: Buffer) => {
      seen = Buffer.concat([seen, c]);
      if (seen.includes(Buffer.from([0x5a, 0, 0, 0, 5]))) {
        s.off('data', onData);
        resolve(seen);
      }
    };
    s.on('data', onData);
  });
}
