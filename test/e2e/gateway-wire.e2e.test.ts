/**
 * Raw bytes against the running gateway (ATTACKS.md "PostgreSQL wire protocol"), after the connect phase's own
 * tests: what a hostile client can send once it holds a valid token and grant, and what it can send before.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as fe from '../../src/gateway/postgres/frontend-encode.js';
import { GATEWAY_REFUSAL } from '../../src/gateway/refusal-reasons.js';
import { RESOURCE, startGatewayFixture, type GatewayFixture } from '../support/gateway.js';
import { until } from '../support/helpers.js';
import { openAnsweredS, openTls, readAll, session, untilReady } from '../support/wire.js';

const HANDSHAKE_TIMEOUT_MS = 3_000;

/** Connects from `from`, sends `bytes`, and returns what the gateway sent until it closed. */
function rawFrom(port: number, from: string, bytes: Buffer, ms?: number): Promise<Buffer> {
  const s = connect({ port, host: '127.0.0.1', localAddress: from });
  s.write(bytes);
  return readAll(s, ms);
}

describe('gateway wire protocol (raw bytes)', () => {
  let f: GatewayFixture;
  let port: number;
  let grantId: string;
  before(async () => {
    f = await startGatewayFixture({
      gatewayYaml: `  maxConnections: 4\n  maxPreAuthPerAddress: 2\n  handshakeTimeout: ${HANDSHAKE_TIMEOUT_MS}ms`,
    });
    port = f.phigate.gateway!.port;
    grantId = await f.grant('dan');
  });
  after(async () => {
    await f?.stop();
  });

  /** The `auth.reject` records of `reasonCode` from `clientAddress`. */
  const rejects = async (reasonCode: string, clientAddress: string) =>
    (
      await f.phigate.store.db
        .selectFrom('audit_events')
        .select(['canonical'])
        .where('action', '=', 'auth.reject')
        .where('reason_code', '=', reasonCode)
        .orderBy('seq')
        .execute()
    )
      .map(
        (r) => JSON.parse(r.canonical) as { how: { clientAddress: string }; detail: Record<string, unknown> },
      )
      .filter((r) => r.how.clientAddress === clientAddress);
  /** Waits for the first record, then gives stragglers a moment: the count must stay what it is. */
  const settledRejects = async (reasonCode: string, clientAddress: string) => {
    await until(async () => (await rejects(reasonCode, clientAddress)).length > 0, `${reasonCode} recorded`);
    await sleep(300);
    return rejects(reasonCode, clientAddress);
  };

  it('refuses a startup packet declaring gigabytes at once (ATTACKS 22)', async () => {
    const s = connect(port, '127.0.0.1');
    const head = Buffer.alloc(8);
    head.writeInt32BE(0x7fffffff, 0);
    head.writeInt32BE(196608, 4);
    s.write(head);
    const answer = await readAll(s);
    assert.equal(String.fromCharCode(answer[0]!), 'E');
    assert.match(answer.toString('latin1'), /08P01/);
  });

  it('refuses a plaintext startup: TLS is required (ATTACKS 24)', async () => {
    const s = connect(port, '127.0.0.1');
    s.write(fe.startupMessage({ user: 'dan', database: RESOURCE }));
    const answer = (await readAll(s)).toString('latin1');
    assert.match(answer, /28000/);
    assert.match(answer, /requires TLS/);
  });

  it('closes a session that sends a message with a negative length, forwarding nothing (ATTACKS 26)', async () => {
    const s = await session(f, port);
    const bad = Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0]);
    s.write(bad);
    const answer = (await readAll(s)).toString('latin1');
    assert.match(answer, /FATAL/);
    assert.match(answer, /08P01/);
  });

  it('answers an unknown message type with FATAL 08P01 (ATTACKS 26)', async () => {
    const s = await session(f, port);
    s.write(Buffer.from([0x7a, 0, 0, 0, 4]));
    const answer = (await readAll(s)).toString('latin1');
    assert.match(answer, /08P01/);
  });

  it('keeps the session usable after a refused extended-protocol statement without Sync until Sync (ATTACKS 26, 27)', async () => {
    const s = await session(f, port);
    s.write(
      Buffer.concat([fe.parse('x', "copy encounters to program 'id'"), fe.bind('', 'x', []), fe.execute('')]),
    );
    s.write(Buffer.concat([fe.sync(), fe.query('select 41 + 1')]));
    const answer = (await readAll(s, 1_500)).toString('latin1');
    assert.match(answer, /42501/);
    assert.match(answer, /42/);
    assert.match(answer, /SELECT 1/);
    s.end(fe.terminate());
  });

  it('refuses the FunctionCall message (it would run a function unguarded and unrecorded); the session goes on', async () => {
    const s = await session(f, port);
    // FunctionCall: pg_backend_pid (OID 2026), no arguments, text result.
    const call = Buffer.alloc(1 + 4 + 4 + 2 + 2 + 2);
    call.write('F', 0, 'latin1');
    call.writeInt32BE(call.length - 1, 1);
    call.writeInt32BE(2026, 5);
    s.write(Buffer.concat([call, fe.query('select 40 + 2')]));
    const answer = (await readAll(s, 1_500)).toString('latin1');
    assert.match(answer, /0A000/);
    assert.match(answer, /FunctionCall protocol message is not relayed/);
    assert.doesNotMatch(answer, /V\0\0\0/, 'no FunctionCallResponse');
    assert.match(answer, /SELECT 1/);
    s.end(fe.terminate());
  });

  it('closes a session that sends a simple Query inside an unfinished extended batch (08P01)', async () => {
    const s = await session(f, port);
    s.write(Buffer.concat([fe.parse('', 'select 1'), fe.query('select 2')]));
    const answer = (await readAll(s)).toString('latin1');
    assert.match(answer, /08P01/);
    assert.match(answer, /unfinished extended-protocol batch/);
  });

  it('closes the session when a statement is refused after earlier ones of its batch reached the database', async () => {
    const s = await session(f, port);
    s.write(
      Buffer.concat([
        fe.parse('', 'select 20 + 1 as first'),
        fe.bind('', '', []),
        fe.execute(''),
        fe.parse('', "copy encounters to program 'id'"),
        fe.bind('', '', []),
        fe.execute(''),
        fe.sync(),
      ]),
    );
    // The database would run the first statement and commit it at the Sync, its answers after the refusal: the
    // session ends instead, which rolls the batch back.
    const answer = (await readAll(s)).toString('latin1');
    assert.match(answer, /FATAL/);
    assert.match(answer, /42501/);
    assert.match(answer, /nothing of the batch is committed/);
    assert.ok(s.destroyed || s.readableEnded, 'the session is closed');
  });

  it('relays Close and Flush before a simple Query (a JDBC pattern) without closing the session', async () => {
    const s = await session(f, port);
    s.write(Buffer.concat([fe.close('S', 'never_prepared'), fe.flush(), fe.query('select 30 + 3')]));
    const answer = (await untilReady(s)).toString('latin1');
    assert.match(answer, /33/);
    assert.doesNotMatch(answer, /08P01/);
    s.end(fe.terminate());
  });

  it('records an Execute with the SQL the database runs, not that of a refused Parse of the same name', async () => {
    const s = await session(f, port);
    s.write(Buffer.concat([fe.parse('same_name', 'select 7 as original'), fe.sync()]));
    await untilReady(s);
    s.write(Buffer.concat([fe.parse('same_name', "copy encounters to program 'id'"), fe.sync()]));
    assert.match((await untilReady(s)).toString('latin1'), /42501/);
    s.write(Buffer.concat([fe.bind('', 'same_name', []), fe.execute(''), fe.sync()]));
    assert.match((await untilReady(s)).toString('latin1'), /SELECT 1/);
    s.end(fe.terminate());
    const executes = (await f.auditActions(grantId))
      .filter((e) => e.action === 'statement.execute' && e.canonical.includes('"protocol":"execute"'))
      .map((e) => e.canonical);
    assert.match(executes.at(-1)!, /select \? as original/);
  });

  it('refuses connections beyond maxConnections with 53300, and records it', async () => {
    // From four addresses: the per-address sign-in limit (2) must not be what refuses.
    const held = await Promise.all([11, 12, 13, 14].map((n) => openTls(port, `127.0.0.${n}`)));
    const answer = (await rawFrom(port, '127.0.0.15', fe.sslRequest())).toString('latin1');
    assert.match(answer, /53300/);
    assert.match(answer, /the phigate gateway has too many connections/);
    for (const h of held) h.destroy();
    assert.equal((await settledRejects(GATEWAY_REFUSAL.gatewayFull, '127.0.0.15')).length, 1);
  });

  it('refuses an address more connections signing in than maxPreAuthPerAddress (53300), records that once a minute, and frees a slot when one closes (issue 12)', async () => {
    const from = '127.0.0.2';
    // Two connections that stop after the S answer: they hold the address's two sign-in slots.
    const held = [await openAnsweredS(port, from), await openAnsweredS(port, from)];
    for (let i = 0; i < 6; i++) {
      const answer = await rawFrom(port, from, fe.sslRequest());
      assert.equal(String.fromCharCode(answer[0]!), 'E', 'a plaintext ErrorResponse: no S was sent');
      assert.match(answer.toString('latin1'), /53300/);
      assert.match(
        answer.toString('latin1'),
        /too many connections from your address are waiting to sign in/,
      );
    }
    // Another address is not affected.
    const other = await openAnsweredS(port, '127.0.0.3');
    other.destroy();
    held[0]!.destroy();
    let freed: Awaited<ReturnType<typeof openAnsweredS>> | undefined;
    await until(async () => {
      freed = await openAnsweredS(port, from).catch(() => undefined);
      return freed !== undefined;
    }, 'a sign-in slot freed by the closed connection');
    freed!.destroy();
    held[1]!.destroy();
    // Six refusals within the minute: one record now; the other five are counted for the minute's summary.
    const records = await settledRejects(GATEWAY_REFUSAL.preAuthLimit, from);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.detail['route'], 'gateway startup');
  });

  it('gives a sign-in slot back once the session is signed in: signed-in sessions do not count (issue 12)', async () => {
    const from = '127.0.0.7';
    const sessions = [
      await session(f, port, 'dan', undefined, from),
      await session(f, port, 'dan', undefined, from),
    ];
    const third = await openAnsweredS(port, from);
    third.destroy();
    for (const s of sessions) s.end(fe.terminate());
  });

  it('closes a client silent after S at the handshake timeout with nothing but S (issue 12, ATTACKS 23)', async () => {
    const start = Date.now();
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.4' });
    s.write(fe.sslRequest());
    const answer = await readAll(s, HANDSHAKE_TIMEOUT_MS + 3_000);
    assert.equal(
      answer.toString('latin1'),
      'S',
      'no plaintext ErrorResponse inside what the client reads as TLS',
    );
    assert.ok(s.destroyed || s.readableEnded, 'the gateway closed the connection');
    assert.ok(Date.now() - start < HANDSHAKE_TIMEOUT_MS + 2_500, 'closed by the gateway, not by the test');
  });

  it('records CancelRequests with unknown keys and malformed startup packets, once per address and minute (issue 12)', async () => {
    for (let i = 0; i < 20; i++) {
      const answer = await rawFrom(
        port,
        '127.0.0.5',
        fe.cancelRequest(randomInt(1, 2 ** 31), randomInt(2 ** 31)),
      );
      assert.equal(answer.length, 0, 'a CancelRequest is never answered');
    }
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(0x7fffffff, 0);
    for (let i = 0; i < 5; i++) {
      await rawFrom(port, '127.0.0.6', huge);
      await rawFrom(port, '127.0.0.6', Buffer.from('GET / HTTP/1.1\r\nHost: gateway\r\n\r\n'));
    }
    assert.equal((await settledRejects(GATEWAY_REFUSAL.cancelUnknown, '127.0.0.5')).length, 1);
    assert.equal((await settledRejects(GATEWAY_REFUSAL.startupMalformed, '127.0.0.6')).length, 1);
  });
});
