/**
 * Ephemeral grant roles in a real protected database: the database itself confines the role to the policy's
 * columns, the role expires by itself, its removal cuts live sessions, and a sweep removes roles of ended grants.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableAccess } from '../../test/support/access.js';
import { createEmptyDatabase, testTargets } from '../../test/support/database.js';
import { createGrantRole, dropGrantRole, sweepGrantRoles } from './provisioner.js';

for (const target of testTargets()) {
  describe(`grant roles on ${target.name} PostgreSQL`, () => {
    let protectedDb: Awaited<ReturnType<typeof createEmptyDatabase>>;
    let admin: pg.Pool;
    const made: string[] = [];
    const connectAs = (role: string, password: string) => {
      const url = new URL(protectedDb.url);
      url.username = role;
      url.password = password;
      return new pg.Client({ connectionString: url.toString() });
    };
    const grant = (grantId = randomUUID()) =>
      createGrantRole(admin, {
        grantId,
        expiresAt: new Date(Date.now() + 3_600_000),
        database: protectedDb.name,
        patientIds: [],
        access: [tableAccess('public.encounters', ['id', 'patient_id'])],
      }).then((r) => {
        made.push(r.role);
        return r;
      });

    before(async () => {
      protectedDb = await createEmptyDatabase(target);
      admin = new pg.Pool({ connectionString: protectedDb.url, max: 4 });
      // Synthetic clinic data: not real patients.
      await admin.query(`
        create table patients (id int primary key, mrn text, name text);
        create table encounters (id int primary key, patient_id int references patients, note text);
        insert into patients values (1, 'MRN-SYN-1', 'Synthetic Person');
        insert into encounters values (10, 1, 'synthetic note')`);
    });
    after(async () => {
      for (const role of made) await dropGrantRole(admin, role).catch(() => undefined);
      await admin.end();
      await protectedDb.drop();
    });

    it('lets the role read exactly the granted columns, through its views, and nothing else', async () => {
      const { role, password } = await grant();
      const client = connectAs(role, password);
      await client.connect();
      try {
        const rows = await client.query('select * from encounters');
        assert.deepEqual(rows.rows, [{ id: 10, patient_id: 1 }], 'the view has the granted columns only');
        for (const [forbidden, code] of [
          ['select note from encounters', '42703'], // not a column of the role's view
          ['select * from patients', '42P01'], // not a table of the role
          ['select * from public.encounters', '42501'], // the table behind the view
          ['insert into encounters values (11, 1)', '42501'],
          ['update encounters set patient_id = 2', '42501'],
          ['delete from encounters', '42501'],
          ['create table t (x int)', '42501'],
          ['set role pg_read_all_data', '42501'],
        ] as const) {
          await assert.rejects(client.query(forbidden), (e: { code?: string }) => e.code === code, forbidden);
        }
      } finally {
        await client.end();
      }
      const info = await admin.query<{ valid: Date; inherit: boolean; login: boolean }>(
        'select rolvaliduntil as valid, rolinherit as inherit, rolcanlogin as login from pg_roles where rolname = $1',
        [role],
      );
      assert.equal(info.rows[0]!.inherit, false);
      assert.equal(info.rows[0]!.login, true);
      assert.ok(info.rows[0]!.valid.getTime() > Date.now());
    });

    it('removing the role cuts its live sessions and leaves nothing behind; removing it again is harmless', async () => {
      const { role, password } = await grant();
      const client = connectAs(role, password);
      client.on('error', () => undefined);
      await client.connect();
      await client.query('select 1');
      const { terminated } = await dropGrantRole(admin, role);
      assert.equal(terminated, 1);
      await assert.rejects(client.query('select 1'));
      await client.end().catch(() => undefined);
      const left = await admin.query('select 1 from pg_roles where rolname = $1', [role]);
      assert.equal(left.rowCount, 0);
      assert.deepEqual(await dropGrantRole(admin, role), { terminated: 0 });
      await assert.rejects(connectAs(role, password).connect());
    });

    it('replicas racing to remove the same role all succeed quietly, and the role is gone', async () => {
      // Every replica that hears of a grant's end removes its role; a race is the normal case, not an error.
      for (let round = 0; round < 5; round++) {
        const { role, password } = await grant();
        const client = connectAs(role, password);
        client.on('error', () => undefined);
        await client.connect();
        const pools = [admin, new pg.Pool({ connectionString: protectedDb.url, max: 2 })];
        try {
          const results = await Promise.allSettled(
            [0, 1, 2, 3].map((i) => dropGrantRole(pools[i % 2]!, role)),
          );
          const failed = results.filter((r) => r.status === 'rejected');
          assert.deepEqual(failed, [], 'no replica fails: the second finds the work done');
          const terminated = results.map((r) => (r.status === 'fulfilled' ? r.value.terminated : 0));
          assert.equal(Math.max(...terminated), 1, 'the live session was terminated');
        } finally {
          await pools[1]!.end();
          await client.end().catch(() => undefined);
        }
        const left = await admin.query('select 1 from pg_roles where rolname = $1', [role]);
        assert.equal(left.rowCount, 0);
      }
    });

    it('sweeps the roles of grants that ended while phigate was down, and keeps active ones', async () => {
      const activeId = randomUUID();
      const active = await grant(activeId);
      const ended = await grant();
      const { removed, failed } = await sweepGrantRoles(admin, async (id) => id === activeId);
      assert.deepEqual(failed, []);
      assert.ok(removed.includes(ended.role));
      assert.ok(!removed.includes(active.role));
      await dropGrantRole(admin, active.role);
    });

    it('leaves alone the roles another database on the same server admitted (its own sweep removes them)', async () => {
      const otherDb = await createEmptyDatabase(target);
      const other = new pg.Pool({ connectionString: otherDb.url, max: 2 });
      try {
        await other.query('create table visits (id int)');
        const elsewhere = await createGrantRole(other, {
          grantId: randomUUID(),
          expiresAt: new Date(Date.now() + 3_600_000),
          database: otherDb.name,
          patientIds: [],
          access: [tableAccess('public.visits', ['id'])],
        });
        const here = await sweepGrantRoles(admin, async () => false);
        assert.ok(!here.removed.includes(elsewhere.role));
        assert.deepEqual(here.failed, []);
        const there = await sweepGrantRoles(other, async () => false);
        assert.deepEqual(there.removed, [elsewhere.role]);
      } finally {
        await other.end();
        await otherDb.drop();
      }
    });
  });
}
