/**
 * Connection startup against real clients (psql, pg) and raw bytes over real sockets and real TLS: TLS required,
 * GSSAPI declined, password = token, no grant → 28000 with the way to ask, bad bytes refused.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import pg from 'pg';
import {
  authenticationOk,
  backendKeyData,
  errorResponse,
  parameterStatus,
  readyForQuery,
} from './backend-messages.js';
import { acceptConnection, type ConnectDeps } from './connect-phase.js';
import * as fe from './frontend-encode.js';

describe('gateway connection startup', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phigate-gw-'));
  let server: Server;
  let port: number;
  const refusals: { reasonCode: string; user: string | undefined }[] = [];

  before(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const deps: ConnectDeps<{ id: string }, string> = {
      tls: createSecureContext({
        key: readFileSync(path.join(dir, 'key.pem')),
        cert: readFileSync(path.join(dir, 'cert.pem')),
      }),
      allowPlaintext: false,
      handshakeTimeoutMs: 500,
      authenticate: async (user, password) => {
        if (password !== 'good-token') throw new Error('bad token');
        return { id: user };
      },
      authorize: async (p, database) =>
        p.id === 'dan' && database === 'clinic-db'
          ? { ok: true, grant: 'grant-1' }
          : {
              ok: false,
              code: 'gateway.no-grant',
              message: `no active grant for ${p.id} on ${database}`,
              hint: `ask with: phigate request --resource ${database} --role …`,
            },
      recordRefusal: async (r) => {
        refusals.push({ reasonCode: r.reasonCode, user: r.user });
      },
      onCancel: (processId, secretKey) => processId === 1 && secretKey === 2,
    };
    // A stand-in for the relay: admits the client, then answers every query with an error naming itself.
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      void acceptConnection(socket, deps).then((accepted) => {
        if (!accepted) return;
        accepted.socket.write(
          Buffer.concat([
            authenticationOk(),
            parameterStatus('server_version', '16.0'),
            parameterStatus('client_encoding', 'UTF8'),
            backendKeyData(1, 2),
            readyForQuery('I'),
          ]),
        );
        accepted.socket.on('data', (chunk: Buffer) => {
          if (chunk[0] === 0x58) return void accepted.socket.end();
          accepted.socket.write(
            Buffer.concat([
              errorResponse({
                severity: 'ERROR',
                code: '0A000',
                message: `test relay: admitted with ${accepted.grant}`,
              }),
              readyForQuery('I'),
            ]),
          );
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (user: string, password: string, database: string, ssl: boolean) =>
    new pg.Client({
      host: '127.0.0.1',
      port,
      user,
      password,
      database,
      ssl: ssl ? { rejectUnauthorized: false } : false,
    });

  it('admits a client with a valid token and an active grant, over TLS (pg)', async () => {
    const c = client('dan', 'good-token', 'clinic-db', true);
    await c.connect();
    await assert.rejects(c.query('select 1'), /test relay: admitted with grant-1/);
    await c.end();
  });

  it('admits psql with sslmode=require', async () => {
    const out = await new Promise<{ stderr: string }>((resolve) =>
      execFile(
        'psql',
        [`host=127.0.0.1 port=${port} user=dan dbname=clinic-db sslmode=require`, '-c', 'select 1'],
        { env: { ...process.env, PGPASSWORD: 'good-token' } },
        (_err, _stdout, stderr) => resolve({ stderr }),
      ),
    );
    assert.match(out.stderr, /test relay: admitted with grant-1/);
  });

  it('refuses a wrong token with 28P01, no grant with 28000 and the way to ask, and records both', async () => {
    refusals.length = 0;
    await assert.rejects(
      client('dan', 'stolen', 'clinic-db', true).connect(),
      (e: { code?: string }) => e.code === '28P01',
    );
    const noGrant = client('alice', 'good-token', 'clinic-db', true);
    await assert.rejects(noGrant.connect(), (e: { code?: string; hint?: string; message: string }) => {
      assert.equal(e.code, '28000');
      assert.match(e.message, /no active grant for alice on clinic-db/);
      assert.match(e.hint ?? '', /phigate request --resource clinic-db/);
      return true;
    });
    assert.deepEqual(refusals, [
      { reasonCode: 'gateway.password', user: 'dan' },
      { reasonCode: 'gateway.no-grant', user: 'alice' },
    ]);
  });

  it('refuses a plaintext startup with a message that says to use TLS (ATTACKS 24)', async () => {
    await assert.rejects(client('dan', 'good-token', 'clinic-db', false).connect(), /requires TLS/);
  });

  const raw = (bytes: Buffer, waitMs = 1500) =>
    new Promise<Buffer>((resolve) => {
      const s = createConnection(port, '127.0.0.1');
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(got)));
      s.write(bytes);
      setTimeout(() => s.destroy(), waitMs);
    });

  /** SSLRequest, the `S` (not returned), then `bytes` where the client's TLS ClientHello belongs. */
  const rawAfterS = (bytes: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const s = createConnection(port, '127.0.0.1');
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => {
        if (got.length === 0) s.write(bytes);
        got.push(c);
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(got)));
      s.write(fe.sslRequest());
      setTimeout(() => s.destroy(), 1500);
    });

  it('declines GSSAPI encryption with N, then goes on (ATTACKS 24)', async () => {
    const answer = await raw(fe.gssencRequest(), 300);
    assert.equal(answer.toString(), 'N');
  });

  it('refuses plaintext bytes sent after SSLRequest before the handshake (ATTACKS 23)', async () => {
    const answer = await raw(
      Buffer.concat([fe.sslRequest(), fe.startupMessage({ user: 'dan', database: 'clinic-db' })]),
    );
    assert.equal(answer[0], 0x45, 'an ErrorResponse, not S');
    assert.match(answer.toString('latin1'), /data received after SSLRequest/);
  });

  it('cuts off SSLRequest followed by silence, and a startup packet declaring gigabytes (ATTACKS 22, 23)', async () => {
    const start = Date.now();
    const silent = await raw(fe.sslRequest(), 3000);
    // After `S` the client reads TLS: the timeout closes the connection without a plaintext ErrorResponse.
    assert.equal(silent.toString('latin1'), 'S', 'nothing but the S answer');
    assert.ok(Date.now() - start < 2900, 'closed by the gateway, not by the test');
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(0x7fffffff, 0);
    const answer = await raw(huge);
    assert.match(answer.toString('latin1'), /startup packet length/);
  });

  it('closes a connection that sends no TLS after S, without writing plaintext into it (issue 12)', async () => {
    const start = Date.now();
    const answer = await rawAfterS(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    assert.equal(answer.toString('latin1'), 'S', 'nothing but the S answer');
    assert.ok(Date.now() - start < 1400, 'closed by the gateway, not by the test');
  });

  it('records malformed startup packets and CancelRequests with unknown keys, not a known key (issue 12)', async () => {
    refusals.length = 0;
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(0x7fffffff, 0);
    await raw(huge);
    await raw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const noUser = fe.startupMessage({ database: 'clinic-db' });
    await raw(noUser);
    assert.equal((await raw(fe.cancelRequest(1, 2), 300)).length, 0, 'a known key: no answer');
    assert.equal((await raw(fe.cancelRequest(1, 3), 300)).length, 0, 'an unknown key: no answer either');
    assert.deepEqual(
      refusals.map((r) => r.reasonCode),
      [
        'gateway.startup-malformed',
        'gateway.startup-malformed',
        'gateway.startup-malformed',
        'gateway.cancel-unknown',
      ],
    );
  });
});
