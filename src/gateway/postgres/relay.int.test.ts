/**
 * A relayed session end to end, with real parts: a real client (pg), the gateway's startup, the upstream login as
 * a provisioned grant role, the relay. Statements are audited before they are forwarded, a failing audit stops them
 * (the session stays usable), and the grant's end cuts the session — a running query included.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { tableAccess } from '../../../test/support/access.js';
import { until } from '../../../test/support/helpers.js';
import { untilReady } from '../../../test/support/wire.js';
import { createEmptyDatabase, primaryTarget } from '../../../test/support/database.js';
import { createGrantRole, dropGrantRole } from '../../provisioner/provisioner.js';
import { acceptConnection } from './connect-phase.js';
import * as fe from './frontend-encode.js';
import { startRelay, type StatementToAudit } from './relay.js';
import { guardSql } from './sql-guard.js';
import { connectUpstream } from './upstream-connect.js';

/** The whole messages in what the server sent so far (a message split across chunks counts once complete). */
function serverMessages(all: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  for (let at = 0; at + 5 <= all.length;) {
    const end = at + 1 + all.readInt32BE(at + 1);
    if (end > all.length) break;
    out.push({ type: String.fromCharCode(all[at]!), body: all.subarray(at + 5, end) });
    at = end;
  }
  return out;
}

describe('relayed session', () => {
  let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let admin: pg.Pool;
  let server: Server;
  let port: number;
  let role: { role: string; password: string };
  let endsAt: Date;
  let failAudit = false;
  let auditDelayMs = 0;
  /** The harness's termination of the role's backends after the last session that ended. */
  let terminated: Promise<unknown> = Promise.resolve();
  const audited: (StatementToAudit & { at: number })[] = [];
  const ends: string[] = [];

  before(async () => {
    db = await createEmptyDatabase(primaryTarget());
    admin = new pg.Pool({ connectionString: db.url, max: 2 });
    await admin.query(`create table encounters (id int primary key, patient_id int, note text);
                       insert into encounters values (10, 1, 'synthetic note'), (11, 2, 'synthetic note 2')`);
    endsAt = new Date(Date.now() + 6_000);
    role = await createGrantRole(admin, {
      grantId: randomUUID(),
      expiresAt: endsAt,
      database: db.name,
      patientIds: [],
      access: [tableAccess('public.encounters', ['id', 'patient_id'])],
    });
    const upstreamUrl = new URL(db.url);
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      void (async () => {
        const accepted = await acceptConnection(socket, {
          tls: undefined,
          allowPlaintext: true,
          authenticate: async (user) => ({ id: user }),
          authorize: async () => ({ ok: true, grant: 'grant for the test' }),
          recordRefusal: async () => undefined,
        });
        if (!accepted) return;
        const upstream = await connectUpstream({
          host: upstreamUrl.hostname,
          port: Number(upstreamUrl.port),
          user: role.role,
          password: role.password,
          database: db.name,
        });
        startRelay({
          client: accepted.socket,
          upstream: upstream.socket,
          parameters: upstream.parameters,
          cancelKey: { processId: 4242, secretKey: 99 },
          audit: async (s) => {
            if (failAudit) throw new Error('audit store down');
            if (auditDelayMs > 0) await new Promise((r) => setTimeout(r, auditDelayMs));
            audited.push({ ...s, at: Date.now() });
          },
          endsAt,
          guard: guardSql,
          grantLabel: 'the test grant',
          onEnd: (reason) => {
            ends.push(reason);
            // What the gateway does at the end: make sure no backend of the role survives the client.
            terminated = admin
              .query('select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [role.role])
              .catch(() => undefined);
          },
        });
      })().catch(() => socket.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  // A session's end makes the harness terminate the role's backends: never while the next test connects.
  beforeEach(() => terminated);
  after(async () => {
    await new Promise((r) => server.close(r));
    await dropGrantRole(admin, role.role);
    await admin.end();
    await db.drop();
  });

  const client = () =>
    new pg.Client({ host: '127.0.0.1', port, user: 'dan', password: 'token', database: db.name });

  it('relays simple and extended queries, auditing each statement before it runs', async () => {
    const c = client();
    await c.connect();
    try {
      assert.deepEqual((await c.query('select id from encounters order by id')).rows, [
        { id: 10 },
        { id: 11 },
      ]);
      assert.deepEqual((await c.query('select patient_id from encounters where id = $1', [11])).rows, [
        { patient_id: 2 },
      ]);
      // Not a column of the grant's view; and the table behind it is the database's to refuse.
      await assert.rejects(
        c.query('select note from encounters'),
        (e: { code?: string }) => e.code === '42703',
      );
      await assert.rejects(
        c.query('select note from public.encounters'),
        (e: { code?: string }) => e.code === '42501',
      );
      assert.equal(
        (await c.query<{ ok: number }>('select 1 as ok')).rows[0]!.ok,
        1,
        'the session is usable after an error',
      );
    } finally {
      await c.end();
    }
    assert.deepEqual(
      audited.map((a) => [a.kind, a.sql]),
      [
        ['query', 'select id from encounters order by id'],
        ['parse', 'select patient_id from encounters where id = $1'],
        ['execute', 'select patient_id from encounters where id = $1'],
        ['query', 'select note from encounters'],
        ['query', 'select note from public.encounters'],
        ['query', 'select 1 as ok'],
      ],
    );
    assert.deepEqual(audited[2]!.parameters, [Buffer.from('11')]);
  });

  it('answers a pipeline in order, the first answer before the last statement is audited', async () => {
    // Twenty simple queries and an extended batch in ONE write: the relay writes upstream in as few system calls as
    // it can, but never holds an answerable statement back until the whole pipeline is audited.
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(fe.startupMessage({ user: 'dan', database: db.name }));
    await new Promise((r) => socket.once('data', r));
    socket.write(fe.passwordMessage('token'));
    await untilReady(socket);
    const firstAudited = audited.length;
    auditDelayMs = 15;
    let firstAnswerAt = 0;
    const received: Buffer[] = [];
    const readies = new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        firstAnswerAt ||= Date.now();
        received.push(c);
        if (serverMessages(Buffer.concat(received)).filter((m) => m.type === 'Z').length === 21) resolve();
      });
    });
    try {
      socket.write(
        Buffer.concat([
          ...Array.from({ length: 20 }, (_, i) => fe.query(`select ${i + 1} as n`)),
          fe.parse('', 'select $1::int as n'),
          fe.bind('', '', [Buffer.from('21')]),
          fe.execute(''),
          fe.sync(),
        ]),
      );
      await readies;
    } finally {
      auditDelayMs = 0;
      const endsBefore = ends.length;
      socket.end(fe.terminate());
      // The harness terminates the role's backends when a session ends: let that finish before the next test
      // connects, or it would end the next test's session too.
      await until(() => ends.length > endsBefore, 'the relay ended the session');
      await terminated;
    }
    // The one column of each DataRow.
    const values = serverMessages(Buffer.concat(received))
      .filter((m) => m.type === 'D')
      .map((m) => Number(m.body.subarray(6, 6 + m.body.readInt32BE(2)).toString()));
    assert.deepEqual(
      values,
      Array.from({ length: 21 }, (_, i) => i + 1),
    );
    const mine = audited.slice(firstAudited);
    assert.equal(mine.length, 22); // 20 queries, the Parse and the Execute
    assert.ok(firstAnswerAt < mine.at(-1)!.at, 'the first answer came before the last statement was audited');
  });

  it('does not forward a statement whose audit cannot be written, and the session survives (ATTACKS 37)', async () => {
    const c = client();
    await c.connect();
    try {
      failAudit = true;
      await assert.rejects(c.query('select id from encounters'), /audit log is unavailable/);
      await assert.rejects(
        c.query('select id from encounters where id = $1', [10]),
        /audit log is unavailable/,
      );
      failAudit = false;
      assert.equal((await c.query<{ n: number }>('select count(*)::int as n from encounters')).rows[0]!.n, 2);
    } finally {
      failAudit = false;
      await c.end();
    }
  });

  it('refuses guarded statements with 42501, records them, and keeps the session usable (ATTACKS 27, 29–31)', async () => {
    const c = client();
    await c.connect();
    try {
      for (const sql of [
        "copy encounters to program 'cat'",
        'select 1; set role postgres',
        'do $$ begin end $$',
      ]) {
        await assert.rejects(c.query(sql), (e: { code?: string }) => e.code === '42501', sql);
      }
      await assert.rejects(
        c.query('select pg_read_file($1)', ['/etc/passwd']),
        (e: { code?: string }) => e.code === '42501',
      );
      assert.equal((await c.query<{ n: number }>('select count(*)::int as n from encounters')).rows[0]!.n, 2);
    } finally {
      await c.end();
    }
    assert.deepEqual(
      audited.filter((a) => a.refusedBy).map((a) => a.refusedBy),
      ['guard.copy-file', 'guard.set-role', 'guard.do-block', 'guard.forbidden-function'],
    );
  });

  it("cuts a live session at the grant's end, a running query included, and forwards nothing after", async () => {
    const c = client();
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    const running = c.query('select pg_sleep(30)').then(
      () => 'finished',
      (e: Error) => e.message,
    );
    const outcome = await running;
    assert.match(outcome, /the test grant ended at .*: the session is closed|Connection terminated/);
    assert.ok(
      Date.now() >= endsAt.getTime() && Date.now() < endsAt.getTime() + 2_000,
      'cut at the end, not later',
    );
    assert.ok(!audited.some((a) => a.at >= endsAt.getTime()), 'no statement forwarded after the end');
    await new Promise((r) => setTimeout(r, 300));
    const backends = await admin.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where usename = $1',
      [role.role],
    );
    assert.equal(backends.rows[0]!.n, 0, 'no backend of the role is left');
    assert.ok(ends.includes('grant-ended'));
  });
});
