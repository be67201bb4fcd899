/**
 * Care relations looked up in a real database: the patients a person is related to at an instant, through the
 * relation table's way to the patient id, bounded by its validity columns, with hostile identifiers kept as data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createEmptyDatabase, testTargets } from '../../test/support/database.js';
import type { CareRelation } from '../policy/types.js';
import { relatedPatients } from './care-relation.js';

for (const target of testTargets()) {
  describe(`care relations on ${target.name} PostgreSQL`, () => {
    let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
    let admin: pg.Pool;

    before(async () => {
      db = await createEmptyDatabase(target);
      admin = new pg.Pool({ connectionString: db.url, max: 2 });
      // Synthetic: no real people.
      await admin.query(`
        create table patients (id int primary key, mrn text not null);
        create table encounters (id int primary key, patient_id int references patients, "Attending" text);
        create table care_team (patient_id int references patients, clinician text, starts_on date, ends_on date);
        insert into patients select g, 'MRN-SYN-' || g from generate_series(1, 6) g;
        insert into encounters values (10, 1, 'olivia'), (11, 1, 'olivia'), (20, 2, 'olivia'), (30, 3, 'chris');
        insert into care_team values
          (4, 'olivia', '2025-01-01', null), (5, 'olivia', '2025-01-01', '2025-06-30'),
          (6, 'olivia', '2027-01-01', null), (6, 'chris', '2025-01-01', null)`);
    });
    after(async () => {
      await admin.end();
      await db.drop();
    });

    const toPatients = { column: 'patient_id', table: 'public.patients', referenced: 'id' };
    const careTeam: CareRelation = {
      table: 'public.care_team',
      requesterColumn: 'clinician',
      requesterIdentifier: 'subject',
      issuer: undefined,
      validFrom: 'starts_on',
      validUntil: 'ends_on',
      patientPath: { hops: [toPatients], idColumn: 'mrn' },
    };
    const now = new Date('2026-12-01T12:00:00Z');

    it('lists the patients a care team relates someone to now: started, not ended', async () => {
      assert.deepEqual(await relatedPatients(admin, careTeam, 'olivia', now, 100), ['MRN-SYN-4']);
      assert.deepEqual(await relatedPatients(admin, careTeam, 'olivia', new Date('2025-03-01'), 100), [
        'MRN-SYN-4',
        'MRN-SYN-5',
      ]);
      assert.deepEqual(await relatedPatients(admin, careTeam, 'chris', now, 100), ['MRN-SYN-6']);
      assert.deepEqual(await relatedPatients(admin, careTeam, 'nobody', now, 100), []);
    });

    it('follows encounters to their patients, once each, up to the limit asked for', async () => {
      const attending: CareRelation = {
        ...careTeam,
        table: 'public.encounters',
        requesterColumn: 'Attending',
        validFrom: undefined,
        validUntil: undefined,
      };
      assert.deepEqual(await relatedPatients(admin, attending, 'olivia', now, 100), [
        'MRN-SYN-1',
        'MRN-SYN-2',
      ]);
      assert.deepEqual(await relatedPatients(admin, attending, 'olivia', now, 1), ['MRN-SYN-1']);
      // Named patients are looked for among themselves: the limit cannot push them out.
      assert.deepEqual(
        await relatedPatients(admin, attending, 'olivia', now, 1, ['MRN-SYN-2', 'MRN-SYN-3']),
        ['MRN-SYN-2'],
      );
      // The patient id column in the table itself.
      const direct: CareRelation = { ...careTeam, patientPath: { hops: [], idColumn: 'patient_id' } };
      assert.deepEqual(await relatedPatients(admin, direct, 'chris', now, 100), ['6']);
    });

    it('takes the person’s identifier as data, never as SQL', async () => {
      for (const hostile of ["olivia' or '1'='1", '%', "'; drop table patients; --", 'OLIVIA']) {
        assert.deepEqual(await relatedPatients(admin, careTeam, hostile, now, 100), [], hostile);
      }
      // PostgreSQL refuses a NUL in text outright: the look-up fails (and the request is refused), it matches nobody.
      await assert.rejects(relatedPatients(admin, careTeam, 'olivia\u0000', now, 100));
      const left = await admin.query<{ n: number }>('select count(*)::int as n from patients');
      assert.equal(left.rows[0]!.n, 6);
    });
  });
}
