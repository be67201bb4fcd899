/**
 * The gateway end to end: a real phigate (API, store, bus, scheduler, gateway) in front of a real protected
 * PostgreSQL database, real clients (`pg`, `psql`) over verified TLS. Only an active grant opens the database, as
 * the grant's own role; statements are audited before they run and completed with their rows; the grant's end —
 * revocation or expiry — cuts live sessions, terminates their backends and drops the role.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { psqlAvailable, runPsql } from '../../src/demo/psql.js';
import { roleNameFor } from '../../src/provisioner/role-plan.js';
import { gatewayPolicy, RESOURCE, startGatewayFixture, type GatewayFixture } from '../support/gateway.js';
import { until } from '../support/helpers.js';

const pgbenchAvailable = (): boolean => spawnSync('pgbench', ['--version'], { stdio: 'ignore' }).status === 0;

// Asynchronous: the gateway answering pgbench runs in this very process.
const run = promisify(execFile);

const ROLE_PATTERN = "rolname like 'phigate\\_g\\_%'";

async function connectError(client: pg.Client): Promise<Error & { code?: string; hint?: string }> {
  try {
    await client.connect();
  } catch (err) {
    return err as Error & { code?: string };
  }
  await client.end();
  assert.fail('the connection was accepted');
}

/** Resolves with the error that ends the client's connection. */
function connectionEnd(client: pg.Client): Promise<Error & { code?: string }> {
  return new Promise((resolve) =>
    // The first error is the server's FATAL; pg reports the socket's end after it ("terminated unexpectedly").
    client.on('error', (err) => resolve(err as Error & { code?: string })),
  );
}

describe('PostgreSQL gateway', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture({
      policy: gatewayPolicy(`  idler:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.encounters: { columns: [id], operations: [SELECT] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
    idleTimeout: 1s
  pair:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.encounters: { columns: [id], operations: [SELECT] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
    maxConnections: 2
  bencher:
    resource: ${RESOURCE}
    eligibleGroups: [analysts]
    access:
      public.pgbench_accounts: { columns: [aid, abalance], operations: [SELECT] }
      public.pgbench_branches: { columns: [bid], operations: [SELECT] }
    duration: { default: 10m, max: 1h }
    purposes: [HOPERAT]
    approval: auto
`),
    });
  });
  after(async () => {
    await f?.stop();
  });

  it('refuses a person without an active grant, says how to ask, and records the attempt', async () => {
    const token = await f.phigate.mintDevToken!('alice');
    const err = await connectError(f.client('alice', token));
    assert.equal(err.code, '28000');
    assert.match(err.message, /no active grant for clinic/);
    assert.match(err.hint ?? '', /phigate request --resource clinic/);
    const refused = await f.phigate.store.db
      .selectFrom('audit_events')
      .select(['reason_code', 'actor_id'])
      .where('action', '=', 'session.refuse')
      .execute();
    assert.ok(
      refused.some((r) => r.reason_code === 'gateway.no-active-grant' && r.actor_id?.endsWith('#alice')),
    );
  });

  it('says there is no such resource, rather than no grant, for a misspelt resource (issue 14)', async () => {
    const r = await f.connection('dan', { resource: 'other-db' });
    assert.equal(r.status, 404);
    const problem = r.body as unknown as { code: string; detail: string };
    assert.equal(problem.code, 'resource.unknown');
    assert.match(problem.detail, /there is no resource other-db/);
  });

  it('refuses wrong credentials with 28P01, another person’s token, and an unknown database', async () => {
    assert.equal((await connectError(f.client('dan', 'not-a-token'))).code, '28P01');
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    assert.equal(body.grantId, grantId);
    // Dan's token presented under Alice's name.
    assert.equal((await connectError(f.client('alice', body.gateway.password))).code, '28P01');
    const tampered = body.gateway.password.slice(0, -2) + (body.gateway.password.endsWith('A') ? 'BB' : 'AA');
    assert.equal((await connectError(f.client('dan', tampered))).code, '28P01');
    const other = await connectError(f.client('dan', body.gateway.password, 'payroll'));
    assert.equal(other.code, '28000');
    assert.match(other.message, /no resource named "payroll"/);
    await f.revoke('dan', grantId);
  });

  it('relays simple and extended protocol as the grant’s own role; audits each statement before it runs, with rows after', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    try {
      const who = await client.query<{ u: string }>('select current_user as u');
      assert.match(who.rows[0]!.u, /^phigate_g_[0-9a-f]{32}$/);
      const simple = await client.query("select id from encounters where department = 'ED' order by id");
      assert.ok(simple.rowCount! > 0);
      const prepared = await client.query({
        name: 'by-patient',
        text: 'select id, department from encounters where patient_id = $1',
        values: [7],
      });
      assert.equal(prepared.rowCount, 3);
      // Executed again by name: Bind/Execute only, still audited.
      await client.query({
        name: 'by-patient',
        text: 'select id, department from encounters where patient_id = $1',
        values: [8],
      });
      // The database enforces the grant's columns and tables; the session stays usable after the error.
      await assert.rejects(
        client.query('select discharged_at from encounters'),
        /column "discharged_at" does not exist/,
      );
      await assert.rejects(client.query('select ssn from patients'), /relation "patients" does not exist/);
      await assert.rejects(client.query('select ssn from public.patients'), /permission denied/);
      assert.equal((await client.query<{ one: number }>('select 1 as one')).rows[0]!.one, 1);
    } finally {
      await client.end();
    }
    await until(
      async () => (await f.auditActions(grantId)).some((e) => e.action === 'session.close'),
      'session.close',
    );
    const events = await f.auditActions(grantId);
    const statements = events.filter((e) => e.action === 'statement.execute');
    const completions = events.filter((e) => e.action === 'statement.complete');
    assert.ok(statements.length >= 7, `${statements.length} statements audited`);
    // Before it runs: every completion comes after its statement.
    type Result = { statementId: number; outcome: string; rows?: number; sqlState?: string };
    const results = completions.flatMap((c) =>
      (JSON.parse(c.canonical) as { detail: { results: Result[] } }).detail.results.map((r) => ({
        r,
        at: events.indexOf(c),
      })),
    );
    for (const { r, at } of results) {
      const s = statements.findIndex(
        (e) =>
          (JSON.parse(e.canonical) as { detail: { statementId: number } }).detail.statementId ===
          r.statementId,
      );
      assert.ok(s >= 0 && events.indexOf(statements[s]!) < at);
    }
    const rows = results.map(({ r }) => r.rows);
    assert.ok(rows.includes(3), `rows recorded: ${rows.join(',')}`);
    assert.ok(results.some(({ r }) => r.outcome === 'failure' && r.sqlState === '42501'));
    // No literal and no parameter in clear.
    const text = events.map((e) => e.canonical).join('\n');
    assert.doesNotMatch(text, /'ED'|"ED"/);
    assert.match(text, /where department = \?/);
    assert.match(text, /"parameters":\["lt_/);
    await f.revoke('dan', grantId);
  });

  it('refuses forbidden statements with 42501 (one in a multi-statement query blocks all), keeping the session usable', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    try {
      for (const sql of [
        'select 1; set role postgres',
        "copy encounters to program 'id'",
        'reset role',
        'do $$ begin perform 1; end $$',
        "select pg_read_file('/etc/passwd')",
      ]) {
        const err = (await client.query(sql).then(
          () => assert.fail(`${sql} was allowed`),
          (e: unknown) => e,
        )) as { code?: string };
        assert.equal(err.code, '42501', sql);
      }
      assert.equal(
        (await client.query<{ n: number }>('select count(*)::int as n from encounters')).rows[0]!.n,
        120,
      );
    } finally {
      await client.end();
    }
    const refused = (await f.auditActions(grantId)).filter(
      (e) => e.action === 'statement.execute' && e.outcome === 'refused',
    );
    assert.equal(refused.length, 5);
    await f.revoke('dan', grantId);
  });

  it('revocation cuts the live session at once: FATAL naming the grant, backend terminated, role dropped', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    const role = (await client.query<{ u: string }>('select current_user as u')).rows[0]!.u;
    const ended = connectionEnd(client);
    const running = client.query('select pg_sleep(60)').catch((e: unknown) => e);
    await sleep(200);
    const revokedAt = Date.now();
    await f.revoke('dan', grantId);
    // The FATAL reaches the query that was running; the connection's end follows.
    const err = (await running) as Error;
    assert.match(err.message, new RegExp(`grant ${grantId} .* was revoked at`));
    await ended;
    await until(
      async () =>
        (await f.protectedDb.query(`select 1 from pg_stat_activity where usename = $1`, [role])).length ===
          0 && (await f.protectedDb.query(`select 1 from pg_roles where rolname = $1`, [role])).length === 0,
      'backend and role gone',
      5_000,
    );
    assert.ok(Date.now() - revokedAt < 5_000);
    // The token opens nothing any more.
    assert.equal((await connectError(f.client('dan', body.gateway.password))).code, '28000');
    const actions = (await f.auditActions(grantId)).map((e) => e.action);
    assert.ok(actions.includes('grant.revoke'));
    // Nothing was forwarded after the revocation: the only statements are the two sent before it.
    assert.equal(actions.filter((a) => a === 'statement.execute').length, 2);
  });

  it('a grant revoked as soon as it activates leaves no role behind (its provisioning does not outlive the drop)', async () => {
    const roles: string[] = [];
    for (let i = 0; i < 5; i++) {
      const grantId = await f.grant('dan');
      await f.revoke('dan', grantId);
      roles.push(roleNameFor(grantId));
    }
    const left = async () =>
      (await f.protectedDb.query(`select 1 from pg_roles where rolname = any($1)`, [roles])).length;
    await until(async () => (await left()) === 0, 'roles of revoked grants gone', 5_000);
    // And none comes back once the provisioning that was under way has finished.
    await sleep(500);
    assert.equal(await left(), 0);
  });

  it('expiry cuts the session at the grant’s end; a statement prepared before is not run after', async () => {
    const grantId = await f.grant('dan', 'reader', '3s');
    const { body } = await f.connection('dan');
    assert.ok(new Date(body.gateway.tokenExpiresAt).getTime() <= Date.now() + 3_000);
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    await client.query({
      name: 'late',
      text: 'select count(*) from encounters where patient_id = $1',
      values: [1],
    });
    const ended = connectionEnd(client);
    const err = await ended;
    assert.match(err.message, new RegExp(`grant ${grantId} .* ended at`));
    await assert.rejects(
      client.query({
        name: 'late',
        text: 'select count(*) from encounters where patient_id = $1',
        values: [2],
      }),
    );
    await until(
      async () =>
        (
          await f.protectedDb.query(`select 1 from pg_roles where ${ROLE_PATTERN} and rolname like $1`, [
            `%${grantId.replaceAll('-', '')}`,
          ])
        ).length === 0,
      'role dropped after expiry',
      5_000,
    );
    const executes = (await f.auditActions(grantId)).filter((e) => e.action === 'statement.execute');
    assert.equal(executes.length, 2, 'the Parse and the Execute before the end; nothing after');
  });

  it('forwards CancelRequest with the gateway’s own keys; guessed keys cancel nothing', async () => {
    const grantId = await f.grant('dan');
    const { body } = await f.connection('dan');
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    const key = client as unknown as { processID: number; secretKey: number };
    const cancelWith = async (processId: number, secretKey: number): Promise<void> => {
      const socket = connect(f.phigate.gateway!.port, '127.0.0.1');
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4);
      packet.writeInt32BE(processId, 8);
      packet.writeInt32BE(secretKey, 12);
      await new Promise<void>((resolve) => socket.end(packet, resolve));
    };
    try {
      const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      assert.notEqual(key.processID, backend, 'the client must not learn the database’s key');
      const slow = client.query('select pg_sleep(1) as slept');
      await sleep(200);
      await cancelWith(key.processID, key.secretKey ^ 1);
      await cancelWith(backend, key.secretKey);
      assert.equal((await slow).rows.length, 1, 'a guessed key cancelled the query');

      const sleeping = client.query('select pg_sleep(30)');
      await sleep(300);
      await cancelWith(key.processID, key.secretKey);
      await assert.rejects(sleeping, (e: { code?: string }) => e.code === '57014');
      assert.equal((await client.query<{ two: number }>('select 2 as two')).rows[0]!.two, 2);
    } finally {
      await client.end();
    }
    await f.revoke('dan', grantId);
  });

  it('logs off an idle session after the role’s idleTimeout (automatic logoff)', async () => {
    const grantId = await f.grant('dan', 'idler');
    const { body } = await f.connection('dan', { grantId });
    const client = f.client('dan', body.gateway.password);
    await client.connect();
    const err = await connectionEnd(client);
    assert.match(err.message, /idle for 1 s .*automatic logoff/);
    await f.revoke('dan', grantId);
  });

  it('hands out --direct credentials whose sessions end with the grant too', async () => {
    const grantId = await f.grant('dan');
    const { status, body } = await f.connection('dan', { direct: true });
    assert.equal(status, 200);
    const direct = body.direct!;
    assert.match(direct.user, /^phigate_g_/);
    const client = new pg.Client({
      host: direct.host,
      port: direct.port,
      user: direct.user,
      password: direct.password,
      database: direct.database,
    });
    await client.connect();
    assert.equal(
      (await client.query<{ n: number }>('select count(*)::int as n from encounters')).rows[0]!.n,
      120,
    );
    const ended = connectionEnd(client);
    await f.revoke('dan', grantId);
    const err = await ended;
    assert.match(err.message, /terminat/);
    const actions = (await f.auditActions(grantId)).map((e) => e.action);
    assert.ok(actions.includes('session.direct-credentials'));
  });

  it(
    'works with psql (sslmode=require) and refuses plaintext',
    { skip: !psqlAvailable() && 'psql is not installed' },
    async () => {
      const grantId = await f.grant('dan');
      const { body } = await f.connection('dan');
      const endpoint = { ...body.gateway };
      const ok = await runPsql(endpoint, 'select count(*) from encounters');
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), '120');
      const plain = await runPsql({ ...endpoint, sslmode: 'disable' }, 'select 1');
      assert.notEqual(plain.code, 0);
      assert.match(plain.stderr, /requires TLS/);
      await f.revoke('dan', grantId);
    },
  );

  it(
    'carries pgbench, simple and prepared protocol',
    { skip: !pgbenchAvailable() && 'pgbench is not installed' },
    async () => {
      const url = new URL(f.protectedDb.superuserUrl);
      const env = {
        ...process.env,
        PGHOST: url.hostname,
        PGPORT: url.port || '5432',
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: f.protectedDb.database,
        // The embedded server's superuser is named like phigate's own schema, which `"$user"` would put first.
        PGOPTIONS: '-c search_path=public',
      };
      await run('pgbench', ['-i', '-q', '-s', '1'], { env });
      const provisioner = new URL(f.protectedDb.upstream.adminUrl!).username;
      await f.protectedDb.query(
        `grant select on pgbench_accounts, pgbench_branches to ${provisioner} with grant option`,
      );
      const grantId = await f.grant('dan', 'bencher');
      const { body } = await f.connection('dan', { grantId });
      for (const mode of ['simple', 'prepared']) {
        const { stdout } = await run('pgbench', ['-n', '-S', '-c', '2', '-j', '1', '-t', '50', '-M', mode], {
          env: {
            ...process.env,
            PGHOST: '127.0.0.1',
            PGPORT: String(f.phigate.gateway!.port),
            PGUSER: 'dan',
            PGPASSWORD: body.gateway.password,
            PGDATABASE: RESOURCE,
            PGSSLMODE: 'require',
          },
        });
        assert.match(stdout, /number of transactions actually processed: 100\/100/, mode);
      }
      await until(
        async () =>
          (await f.auditActions(grantId)).filter((e) => e.action === 'statement.execute').length >= 200,
        '200 statements audited',
      );
      await f.revoke('dan', grantId);
    },
  );

  describe('a grant’s connection limit (its role’s maxConnections: 2)', () => {
    /** Clients connected through the gateway with the grant's connection token; ended after the test. */
    const open: pg.Client[] = [];
    const connected = async (password: string): Promise<pg.Client> => {
      const c = f.client('dan', password);
      c.on('error', () => undefined); // the grant's revocation ends it with a FATAL
      await c.connect();
      open.push(c);
      return c;
    };
    const assertGrantLimit = (err: Error & { code?: string }, grantId: string) => {
      assert.equal(err.code, '53300', err.message);
      assert.match(err.message, new RegExp(`grant ${grantId} allows 2 connections at once`));
      assert.match(err.message, /close one and try again/);
    };
    const refusals = async (grantId: string) =>
      (await f.auditActions(grantId)).filter(
        (e) => e.action === 'session.refuse' && e.canonical.includes('"gateway.grant-connection-limit"'),
      ).length;
    after(async () => {
      await Promise.all(open.map((c) => c.end().catch(() => undefined)));
    });

    it('the third session gets 53300 naming the grant’s limit, and the refusal is recorded (issue 12)', async () => {
      const grantId = await f.grant('dan', 'pair');
      const { body } = await f.connection('dan', { grantId });
      await connected(body.gateway.password);
      const second = await connected(body.gateway.password);
      assertGrantLimit(await connectError(f.client('dan', body.gateway.password)), grantId);
      assert.equal(await refusals(grantId), 1);
      // A session that ends gives its place back.
      await second.end();
      await until(
        () =>
          connected(body.gateway.password).then(
            () => true,
            () => false,
          ),
        'a place freed by the closed session',
      );
      await f.revoke('dan', grantId);
    });

    it('counts --direct sessions too: the database’s refusal for the role becomes the same 53300 (issue 12)', async () => {
      const grantId = await f.grant('dan', 'pair');
      const { body } = await f.connection('dan', { grantId, direct: true });
      const direct = body.direct!;
      const directClient = new pg.Client({
        host: direct.host,
        port: direct.port,
        user: direct.user,
        password: direct.password,
        database: direct.database,
      });
      directClient.on('error', () => undefined);
      await directClient.connect();
      open.push(directClient);
      await connected(body.gateway.password);
      // One session in the gateway: its own count lets the next through, and the database refuses the role.
      assertGrantLimit(await connectError(f.client('dan', body.gateway.password)), grantId);
      assert.equal(await refusals(grantId), 1);
      await f.revoke('dan', grantId);
    });

    it('holds to the policy’s limit even when the role in the database allows more (issue 12)', async () => {
      const grantId = await f.grant('dan', 'pair');
      const { body } = await f.connection('dan', { grantId });
      const first = await connected(body.gateway.password);
      const role = (await first.query<{ u: string }>('select current_user as u')).rows[0]!.u;
      // As if the role had been made under an older policy with a higher limit.
      await f.protectedDb.query(`alter role ${role} connection limit 5`);
      await connected(body.gateway.password);
      assertGrantLimit(await connectError(f.client('dan', body.gateway.password)), grantId);
      await f.revoke('dan', grantId);
    });
  });

  it('answers POST /v1/connections without an active grant with 409 grant.not-active', async () => {
    const r = await f.connection('alice');
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'grant.not-active');
  });
});
