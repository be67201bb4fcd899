/**
 * The gateway logs in upstream as a grant's own role (made by the provisioner) and speaks to the database.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { tableAccess } from '../../../test/support/access.js';
import { createEmptyDatabase, testTargets } from '../../../test/support/database.js';
import { createGrantRole, dropGrantRole } from '../../provisioner/provisioner.js';
import { parseErrorFields } from './backend-messages.js';
import * as fe from './frontend-encode.js';
import { PacketReader } from './packet-reader.js';
import { connectUpstream, UpstreamRefused } from './upstream-connect.js';

for (const target of testTargets()) {
  describe(`upstream login on ${target.name} PostgreSQL`, () => {
    let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
    let admin: pg.Pool;
    let role: { role: string; password: string };
    before(async () => {
      db = await createEmptyDatabase(target);
      admin = new pg.Pool({ connectionString: db.url, max: 2 });
      await admin.query(`create table encounters (id int primary key, patient_id int, note text);
                         insert into encounters values (10, 1, 'synthetic note')`);
      role = await createGrantRole(admin, {
        grantId: randomUUID(),
        expiresAt: new Date(Date.now() + 600_000),
        database: db.name,
        patientIds: [],
        access: [tableAccess('public.encounters', ['id', 'patient_id'])],
      });
    });
    after(async () => {
      await dropGrantRole(admin, role.role);
      await admin.end();
      await db.drop();
    });

    const url = () => new URL(db.url);

    it('logs in as the grant role and runs a query through the raw protocol', async () => {
      const up = await connectUpstream({
        host: url().hostname,
        port: Number(url().port),
        user: role.role,
        password: role.password,
        database: db.name,
      });
      try {
        assert.ok(up.parameters.get('server_version'));
        assert.ok(up.backendKey && up.backendKey.processId > 0);
        const reader = new PacketReader(up.socket);
        reader.framer.startTyped();
        up.socket.write(
          fe.query('select id, patient_id from encounters; select note from public.encounters'),
        );
        const types: string[] = [];
        let error = '';
        for (;;) {
          const f = await reader.next(5_000);
          const t = String.fromCharCode(f.type!);
          types.push(t);
          if (t === 'E') error = parseErrorFields(f.body).code;
          if (t === 'Z') break;
        }
        assert.deepEqual(types, ['T', 'D', 'C', 'E', 'Z']);
        assert.equal(error, '42501', 'the database itself refuses the table behind the view');
        up.socket.write(fe.terminate());
      } finally {
        up.socket.destroy();
      }
    });

    it('reports the database refusing a login, with its SQLSTATE', async () => {
      await assert.rejects(
        connectUpstream({
          host: url().hostname,
          port: Number(url().port),
          user: role.role,
          password: role.password,
          database: 'no_such_database_here',
        }),
        (e: UpstreamRefused) => e instanceof UpstreamRefused && e.sqlState === '3D000',
      );
    });
  });
}
