import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicy } from './compile.js';
import { patientIdColumnOf } from './phi.js';
import { SAFE_HARBOR, SAFE_HARBOR_KINDS } from './safe-harbor.js';

const example = readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8');

function compiled(source: string) {
  const r = compilePolicy(source, 'p.yaml');
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.policy;
}

function problems(source: string): string {
  const r = compilePolicy(source, 'p.yaml');
  assert.ok(!r.ok, 'expected the policy to be refused');
  return r.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

/** The example with one more PHI table and one more role, to try declarations on. */
function withTable(phi: string, access: string, patientScope = 'required'): string {
  return example
    .replace('    phi:\n', `    phi:\n${phi}`)
    .replace(
      'roles:\n',
      `roles:\n  trial:\n    resource: clinic-db\n    eligibleGroups: [analysts]\n    access:\n${access}` +
        `    duration: { default: 30m, max: 1h }\n    purposes: [HOPERAT]\n    patientScope: ${patientScope}\n` +
        '    approval: one-lead\n',
    );
}

describe('PHI in the policy (Safe Harbor kinds, masks, patient keys)', () => {
  it('ships the 18 Safe Harbor identifier kinds, items A to R, each with a default mask', () => {
    assert.equal(SAFE_HARBOR_KINDS.length, 18);
    assert.deepEqual(SAFE_HARBOR_KINDS.map((k) => SAFE_HARBOR[k].item).join(''), 'ABCDEFGHIJKLMNOPQR');
    assert.equal(SAFE_HARBOR.dates.defaultMask, 'year');
    assert.equal(SAFE_HARBOR.photo.defaultMask, 'hide');
  });

  it('resolves each column’s mask: the role’s, else the resource’s, else the kind’s default, else clear', () => {
    const analyst = compiled(example).roles.get('analyst-encounters')!;
    const patients = analyst.access.find((a) => a.table === 'public.patients')!;
    assert.deepEqual(patients.masks, {
      id: 'clear',
      mrn: 'pseudonym',
      name: 'redact',
      birth_date: 'year',
      zip: 'zip3',
    });
    assert.equal(patients.phi, true);
    const encounters = analyst.access.find((a) => a.table === 'public.encounters')!;
    assert.equal(encounters.masks['admitted_at'], 'year');
    assert.equal(encounters.masks['department'], 'clear');
    const physician = compiled(example).roles.get('physician-chart-review')!;
    assert.equal(physician.access.find((a) => a.table === 'public.patients')!.masks['name'], 'clear');
  });

  it('follows foreign keys to the patient id column', () => {
    const analyst = compiled(example).roles.get('analyst-encounters')!;
    assert.deepEqual(analyst.access.find((a) => a.table === 'public.observations')!.patientPath, {
      hops: [
        { column: 'encounter_id', table: 'public.encounters', referenced: 'id' },
        { column: 'patient_id', table: 'public.patients', referenced: 'id' },
      ],
      idColumn: 'mrn',
    });
    assert.deepEqual(analyst.access.find((a) => a.table === 'public.patients')!.patientPath, {
      hops: [],
      idColumn: 'mrn',
    });
  });

  it('names the column of a table whose values are patient ids, when the role sees it unmasked', () => {
    const access = (
      columns: string[],
      hops: { column: string; table: string; referenced: string }[],
      masks: Record<string, 'clear' | 'redact'> = {},
    ) => ({
      table: 'public.t',
      columns,
      masks,
      operations: ['SELECT' as const],
      phi: true,
      patientPath: { hops, idColumn: 'id' },
    });
    assert.equal(patientIdColumnOf(access(['id', 'name'], [])), 'id');
    assert.equal(patientIdColumnOf(access(['id'], [], { id: 'redact' })), undefined);
    assert.equal(patientIdColumnOf(access(['name'], [])), undefined);
    // encounters.patient_id → patients.id, the patient id: its values are patient ids.
    const toPatients = [{ column: 'patient_id', table: 'public.patients', referenced: 'id' }];
    assert.equal(patientIdColumnOf(access(['patient_id'], toPatients)), 'patient_id');
    // observations.encounter_id → encounters.id: an encounter, not a patient.
    const toEncounters = [
      { column: 'encounter_id', table: 'public.encounters', referenced: 'id' },
      ...toPatients,
    ];
    assert.equal(patientIdColumnOf(access(['encounter_id'], toEncounters)), undefined);
    // A chain of references that carries the id all the way (a → b.patient_id → patients.id).
    const carried = [
      { column: 'pid', table: 'public.b', referenced: 'patient_id' },
      { column: 'patient_id', table: 'public.patients', referenced: 'id' },
    ];
    assert.equal(patientIdColumnOf(access(['pid'], carried)), 'pid');
    assert.equal(patientIdColumnOf({ ...access(['id'], []), patientPath: undefined }), undefined);
  });

  it('leaves out a column whose mask is hide', () => {
    const policy = compiled(
      withTable(
        '      public.photos: { patientKey: mrn, columns: { face: photo } }\n',
        '      public.photos: { columns: [id, mrn, face] }\n',
      ),
    );
    const photos = policy.roles.get('trial')!.access[0]!;
    assert.deepEqual(photos.columns, ['id', 'mrn']);
    assert.equal(photos.masks['face'], undefined);
  });

  it('refuses what cannot be enforced, on the line that says it', () => {
    assert.match(
      problems(
        withTable(
          '      public.labs: { columns: { drawn_at: dates } }\n',
          '      public.labs: { columns: [id] }\n',
        ),
      ),
      /public\.labs holds PHI but has no patientKey/,
    );
    // Not patient-scoped: a table without a patient key is fine.
    compiled(
      withTable(
        '      public.labs: { columns: { drawn_at: dates } }\n',
        '      public.labs: { columns: [id] }\n',
        'none',
      ),
    );
    assert.match(
      problems(
        withTable(
          '      public.a: { patientKey: { column: b_id, references: public.b.id } }\n' +
            '      public.b: { patientKey: { column: a_id, references: public.a.id } }\n',
          '      public.a: { columns: [id] }\n',
        ),
      ),
      /go round in a circle/,
    );
    assert.match(
      problems(
        withTable(
          '      public.labs: { patientKey: { column: visit_id, references: public.visits.id } }\n',
          '      public.labs: { columns: [id] }\n',
        ),
      ),
      /public\.visits must be a PHI table of this resource with its own patientKey/,
    );
    assert.match(
      problems(withTable('', '      public.encounters: { columns: [id], masks: { ssn: redact } }\n')),
      /ssn is masked but not among the role's columns/,
    );
    assert.match(
      problems(
        withTable(
          '',
          '      public.encounters: { columns: [id] }\n      billing.encounters: { columns: [id] }\n',
        ),
      ),
      /have the same name; a role may reach only one/,
    );
    assert.match(problems(withTable('      public.x: { columns: { a: shoe-size } }\n', '')), /phi/);
    assert.match(
      problems(withTable('', '      public.encounters: { columns: [id], masks: { id: scramble } }\n')),
      /masks/,
    );
  });
});
