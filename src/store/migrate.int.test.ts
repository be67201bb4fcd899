import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import { leafHash } from '../audit/merkle.js';
import { openDatabase, type Db } from './database.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';
import { createEmptyDatabase, testTargets } from '../../test/support/database.js';

/** Writes one audit row, then tries every way of changing the log; each must be refused with `refused`. */
async function assertAppendOnly(db: Db, refused: RegExp, statements: RawBuilder<unknown>[]): Promise<void> {
  await sql`insert into audit_events (seq, recorded_at, action, outcome, canonical, leaf_hash)
            values (1, now(), 'test', 'success', '{}', sha256('x'))`.execute(db);
  for (const stmt of statements) await assert.rejects(stmt.execute(db), refused);
}

for (const target of testTargets()) {
  describe(`migrations on ${target.name} PostgreSQL`, () => {
    it('apply once, and a second run (another replica starting) applies nothing', async () => {
      const empty = await createEmptyDatabase(target);
      const a = openDatabase(empty.url);
      const b = openDatabase(empty.url);
      try {
        const [first, second] = await Promise.all([
          migrateToLatest(a.db as never),
          migrateToLatest(b.db as never),
        ]);
        assert.deepEqual([...first, ...second].sort(), Object.keys(migrations));
        assert.deepEqual(await migrateToLatest(a.db as never), []);
      } finally {
        await a.close();
        await b.close();
        await empty.drop();
      }
    });

    it('0002 gives events written before hashing their canonical bytes and leaf hashes', async () => {
      const empty = await createEmptyDatabase(target);
      const h = openDatabase(empty.url);
      try {
        await migrateToLatest(h.db as never, '0001-control-plane');
        const legacy = {
          action: 'request.create',
          outcome: 'success',
          actor: { id: 'https://idp.example#alice', displayName: 'Alice', groups: ['support'] },
          resource: 'clinic-db',
          detail: { durationMs: 60000 },
          recordedAt: '2026-01-01T00:00:00.000Z',
        };
        await sql`insert into audit_events (seq, recorded_at, action, outcome, actor_id, resource, event)
                  values (1, '2026-01-01T00:00:00Z', 'request.create', 'success', 'https://idp.example#alice',
                          'clinic-db', ${JSON.stringify(legacy)}::jsonb)`.execute(h.db);
        await sql`update audit_head set last_seq = 1`.execute(h.db);
        assert.deepEqual(await migrateToLatest(h.db as never, '0002-tamper-evident-audit'), [
          '0002-tamper-evident-audit',
        ]);
        const rows = await sql<{ canonical: string; leaf_hash: Buffer }>`
          select canonical, leaf_hash from audit_events`.execute(h.db);
        const row = rows.rows[0]!;
        assert.equal(
          row.canonical,
          '{"action":"request.create","detail":{"durationMs":60000},"outcome":"success",' +
            '"recordedAt":"2026-01-01T00:00:00.000Z","v":1,"what":{"resource":"clinic-db"},' +
            '"who":{"actor":"https://idp.example#alice","groups":["support"],"name":"Alice"}}',
        );
        assert.deepEqual(row.leaf_hash, leafHash(Buffer.from(row.canonical, 'utf8')));
        await assert.rejects(
          sql`update audit_events set action = 'x'`.execute(h.db),
          /append-only|permission/,
        );
      } finally {
        await h.close();
        await empty.drop();
      }
    });

    it('a non-superuser that owns the store and ran the migrations has no UPDATE, DELETE or TRUNCATE on the log', async () => {
      const role = `phigate_owner_${randomBytes(4).toString('hex')}`;
      const adminClient = new pg.Client({ connectionString: target.adminUrl });
      await adminClient.connect();
      const empty = await createEmptyDatabase(target);
      try {
        await adminClient.query(`create role ${role} login password 'owner-test-only'`);
        await adminClient.query(`alter database ${empty.name} owner to ${role}`);
        const url = new URL(empty.url);
        url.username = role;
        url.password = 'owner-test-only';
        const h = openDatabase(url.toString());
        try {
          // PostgreSQL 15+: public schema belongs to pg_database_owner, i.e. this role.
          await migrateToLatest(h.db as never);
          await assertAppendOnly(h.db, /permission denied/, [
            sql`update audit_events set action = 'forged'`,
            sql`delete from audit_events`,
            sql`truncate audit_events`,
            sql`delete from audit_checkpoints`,
            sql`update audit_tree_nodes set hash = hash`,
          ]);
        } finally {
          await h.close();
        }
      } finally {
        await empty.drop();
        await adminClient.query(`drop role if exists ${role}`);
        await adminClient.end();
      }
    });

    it('the audit table refuses UPDATE, DELETE and TRUNCATE even for its owner', async () => {
      const empty = await createEmptyDatabase(target);
      const h = openDatabase(empty.url);
      try {
        await migrateToLatest(h.db as never);
        // A superuser passes the revoked privileges and meets the trigger; any other owner meets both.
        await assertAppendOnly(h.db, /append-only|permission denied/, [
          sql`update audit_events set action = 'forged'`,
          sql`delete from audit_events`,
          sql`truncate audit_events`,
        ]);
        const rows = await h.db.selectFrom('audit_events').select(['seq', 'action']).execute();
        assert.deepEqual(rows, [{ seq: 1, action: 'test' }]);
      } finally {
        await h.close();
        await empty.drop();
      }
    });
  });
}
