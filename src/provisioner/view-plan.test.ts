import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TableAccess } from '../policy/types.js';
import { maskedExpression, MaskTypeError } from './mask-sql.js';
import { planViews, tablesOf, ViewPlanError, type ColumnTypes } from './view-plan.js';

const types: ColumnTypes = new Map([
  [
    'public.patients',
    new Map([
      ['id', 'integer'],
      ['mrn', 'text'],
      ['ssn', 'character varying(11)'],
      ['birth_date', 'date'],
    ]),
  ],
  [
    'public.encounters',
    new Map([
      ['id', 'integer'],
      ['patient_id', 'integer'],
      ['admitted_at', 'timestamp with time zone'],
    ]),
  ],
  [
    'public.observations',
    new Map([
      ['id', 'integer'],
      ['encounter_id', 'integer'],
    ]),
  ],
]);

const patients: TableAccess = {
  table: 'public.patients',
  columns: ['id', 'mrn', 'ssn', 'birth_date'],
  masks: { id: 'clear', mrn: 'clear', ssn: 'last4', birth_date: 'year' },
  operations: ['SELECT'],
  phi: true,
  patientPath: { hops: [], idColumn: 'mrn' },
};
const observations: TableAccess = {
  table: 'public.observations',
  columns: ['id'],
  masks: { id: 'clear' },
  operations: ['SELECT', 'INSERT'],
  phi: true,
  patientPath: {
    hops: [
      { column: 'encounter_id', table: 'public.encounters', referenced: 'id' },
      { column: 'patient_id', table: 'public.patients', referenced: 'id' },
    ],
    idColumn: 'mrn',
  },
};

describe('masked views', () => {
  it('selects only the role’s columns, masked, from a security-barrier view named like the table', () => {
    const set = planViews({ access: [patients], scoped: false, types });
    assert.match(set.schema, /^phigate_v_[0-9a-f]{24}$/);
    const view = set.statements[2]!;
    assert.match(
      view,
      /^create view "phigate_v_[0-9a-f]+"\."patients" with \(security_barrier\) as select t\."id", t\."mrn", /,
    );
    assert.match(view, /right\(t\."ssn", 4\)/);
    assert.match(view, /date_trunc\('year', t\."birth_date"\)::date as "birth_date"/);
    assert.match(view, / from "public"\."patients" t$/, 'an unscoped grant sees every row');
    assert.deepEqual(set.views, [{ sql: `"${set.schema}"."patients"`, operations: ['SELECT'] }]);
  });

  it('keeps a scoped grant’s rows to its patients, following foreign keys to the patient id, and checks writes', () => {
    const set = planViews({ access: [patients, observations], scoped: true, types });
    assert.match(
      set.statements[2]!,
      /where t\."mrn" in \(select g\.patient_id from "phigate"\.grant_patients g where g\.role_name = current_user\)$/,
    );
    const obs = set.statements[3]!;
    assert.match(obs, /with \(security_barrier, check_option = local\)/);
    assert.match(
      obs,
      /where t\."encounter_id" in \(select h1\."id" from "public"\."encounters" h1 where h1\."patient_id" in \(select h2\."id" from "public"\."patients" h2 where h2\."mrn" in \(select g\.patient_id from/,
    );
    assert.deepEqual(tablesOf([patients, observations]), [
      'public.encounters',
      'public.observations',
      'public.patients',
    ]);
  });

  it('names the schema after the definitions: same views, same schema; any difference, another', () => {
    const a = planViews({ access: [patients], scoped: true, types }).schema;
    assert.equal(planViews({ access: [patients], scoped: true, types }).schema, a);
    assert.notEqual(planViews({ access: [patients], scoped: false, types }).schema, a);
    const unmasked = { ...patients, masks: { ...patients.masks, ssn: 'clear' as const } };
    assert.notEqual(planViews({ access: [unmasked], scoped: true, types }).schema, a);
  });

  it('refuses a column the table does not have, and a mask its type cannot take', () => {
    assert.throws(
      () => planViews({ access: [{ ...patients, columns: ['nope'] }], scoped: false, types }),
      (e) => e instanceof ViewPlanError && /public\.patients\.nope does not exist/.test(e.message),
    );
    assert.throws(() => maskedExpression('t."x"', 'integer', 'year', { sql: 'k' }), MaskTypeError);
    assert.throws(() => maskedExpression('t."x"', 'integer', 'zip3', { sql: 'k' }), MaskTypeError);
  });

  it('casts the patient set to the id column’s type, so that its index serves', () => {
    const byId: TableAccess = { ...patients, patientPath: { hops: [], idColumn: 'id' } };
    assert.match(
      planViews({ access: [byId], scoped: true, types }).statements[2]!,
      /select g\.patient_id::integer from/,
    );
  });

  it('writes each mask with built-ins only and keeps NULL as NULL', () => {
    const key = { sql: '"phigate".pseudonym_key' };
    assert.equal(maskedExpression('t."a"', 'text', 'clear', key), 't."a"');
    assert.equal(
      maskedExpression('t."a"', 'text', 'redact', key),
      `case when t."a" is null then null else '***'::text end`,
    );
    assert.match(maskedExpression('t."a"', 'text', 'zip3', key), /left\(t\."a", 3\) in \('036', /);
    assert.match(
      maskedExpression('t."a"', 'integer', 'pseudonym', key),
      /convert_to\(t\."a"::text, 'UTF8'\)/,
    );
    assert.match(
      maskedExpression('t."a"', 'timestamp(3) with time zone', 'year', key),
      /at time zone 'UTC'\) at time zone 'UTC'/,
    );
  });
});
