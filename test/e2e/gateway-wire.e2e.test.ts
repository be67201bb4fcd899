/**
 * Raw bytes against the running gateway (ATTACKS.md "PostgreSQL wire protocol"), after the connect phase's own
 * tests: what a hostile client can send once it holds a valid token and grant, and what it can send before.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as fe from '../../src/gateway/postgres/frontend-encode.js';
import { RESOURCE, startGatewayFixture, type GatewayFixture } from '../support/gateway.js';
import { openTls, readAll, session, untilReady } from '../support/wire.js';

describe('gateway wire protocol (raw bytes)', () => {
  let f: GatewayFixture;
  let port: number;
  let grantId: string;
  before(async () => {
    f = await startGatewayFixture({ gatewayYaml: '  maxConnections: 4' });
    port = f.phigate.gateway!.port;
    grantId = await f.grant('dan');
  });
  after(async () => {
    await f?.stop();
  });

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

  it('refuses connections beyond maxConnections with 53300', async () => {
    const held = await Promise.all([0, 1, 2, 3].map(() => openTls(port)));
    const extra = connect(port, '127.0.0.1');
    extra.write(fe.sslRequest());
    const answer = (await readAll(extra)).toString('latin1');
    assert.match(answer, /53300/);
    for (const h of held) h.destroy();
  });
});
