/**
 * Whether named patients exist, asked of a real database: one query for every id, compared with the key column's
 * own type, ids that are no value of that type counted as unknown (without the query failing), hostile ids kept as
 * data, and a policy that names a column the database lacks refused rather than read as "nobody exists".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createEmptyDatabase, testTargets } from '../../test/support/database.js';
import { tableAccess } from '../../test/support/access.js';
import type { ResourceDefinition, RoleDefinition } from '../policy/types.js';
import { countKnownPatients, PatientKeyError, patientKeyColumns } from './known-patients.js';

for (const target of testTargets()) {
  describe(`known patients on ${target.name} PostgreSQL`, () => {
    let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
    let admin: pg.Pool;

    before(async () => {
      db = await createEmptyDatabase(target);
      admin = new pg.Pool({ connectionString: db.url, max: 2 });
      // Synthetic: no real people.
      await admin.query(`
        create schema legacy;
        create table patients (id int primary key, mrn text not null unique);
        create table short_ids (code varchar(8) primary key);
        create table legacy.people (uid uuid primary key);
        insert into patients select g, 'MRN-SYN-' || g from generate_series(1, 50) g;
        insert into short_ids values ('MRN-SYN-');
        insert into legacy.people values ('6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f')`);
    });
    after(async () => {
      await admin.end();
      await db.drop();
    });

    const count = (table: string, column: string, ids: readonly string[]) =>
      countKnownPatients(admin, [{ table, column }], ids);

    it('counts the named ids a text key holds, each once', async () => {
      assert.equal(await count('public.patients', 'mrn', ['MRN-SYN-1', 'MRN-SYN-2', 'MRN-SYN-2']), 2);
      const made_up = Array.from({ length: 500 }, (_, i) => `MRN-NOBODY-${i}`);
      assert.equal(await count('public.patients', 'mrn', made_up), 0);
      assert.equal(await count('public.patients', 'mrn', [...made_up, 'MRN-SYN-50']), 1);
    });

    it('compares with an integer key as integers, and counts ids that are no integer as unknown', async () => {
      assert.equal(await count('public.patients', 'id', ['1', '007', '50']), 3);
      // 'MRN-1' and an overflowing number make the typed query fail; the answer is still a count, not an error.
      assert.equal(await count('public.patients', 'id', ['1', 'MRN-1', '99999999999', '2']), 2);
      assert.equal(await count('public.patients', 'id', ["1' or '1'='1", '1; drop table patients']), 0);
    });

    it('never shortens an id to fit the column (varchar(8)), and compares uuids as uuids', async () => {
      assert.equal(await count('public.short_ids', 'code', ['MRN-SYN-1']), 0);
      assert.equal(await count('public.short_ids', 'code', ['MRN-SYN-']), 1);
      const upper = '6F1C2D3E-4B5A-4C6D-8E7F-9A0B1C2D3E4F';
      assert.equal(await count('legacy.people', 'uid', [upper]), 1, 'the same uuid, spelled otherwise');
      // With an id that is no uuid, ids are compared as text: another spelling then counts as unknown too. The
      // request is refused either way; only the count of unknown ids can be higher than the strict one.
      assert.equal(await count('legacy.people', 'uid', [upper, 'x']), 0);
      assert.equal(await count('legacy.people', 'uid', [upper.toLowerCase(), 'x']), 1);
    });

    it('finds an id in any of several key columns', async () => {
      const keys = [
        { table: 'public.patients', column: 'mrn' },
        { table: 'legacy.people', column: 'uid' },
      ];
      const ids = ['MRN-SYN-3', '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', 'MRN-NOBODY'];
      assert.equal(await countKnownPatients(admin, keys, ids), 2);
    });

    it('refuses a key column the database does not have, leaving the data as it was', async () => {
      await assert.rejects(count('public.patients', 'nope', ['MRN-SYN-1']), PatientKeyError);
      await assert.rejects(count('public.nope', 'mrn', ['MRN-SYN-1']), PatientKeyError);
      const left = await admin.query<{ n: number }>('select count(*)::int as n from patients');
      assert.equal(left.rows[0]!.n, 50);
    });

    it('looks where the role’s tables lead, else in every patient table of the resource', () => {
      const toPatients = {
        hops: [{ column: 'patient_id', table: 'public.patients', referenced: 'id' }],
        idColumn: 'mrn',
      };
      const resource = {
        name: 'clinic',
        phi: new Map([
          [
            'public.patients',
            { table: 'public.patients', patientPath: { hops: [], idColumn: 'mrn' }, columns: new Map() },
          ],
          [
            'legacy.people',
            { table: 'legacy.people', patientPath: { hops: [], idColumn: 'uid' }, columns: new Map() },
          ],
          ['public.encounters', { table: 'public.encounters', patientPath: toPatients, columns: new Map() }],
        ]),
      } as unknown as ResourceDefinition;
      const role = (access: RoleDefinition['access']) => ({ access }) as unknown as RoleDefinition;
      assert.deepEqual(
        patientKeyColumns(
          resource,
          role([tableAccess('public.encounters', ['id'], { phi: true, patientPath: toPatients })]),
        ),
        [{ table: 'public.patients', column: 'mrn' }],
      );
      assert.deepEqual(patientKeyColumns(resource, role([tableAccess('public.rooms', ['id'])])), [
        { table: 'public.patients', column: 'mrn' },
        { table: 'legacy.people', column: 'uid' },
      ]);
      const bare = { name: 'x', phi: new Map() } as unknown as ResourceDefinition;
      assert.deepEqual(patientKeyColumns(bare, role([])), []);
    });
  });
}
