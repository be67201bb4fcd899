import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicy, compilePolicyOrThrow } from './compile.js';
import type { DecisionInput } from './types.js';

const example = readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8');
const policy = compilePolicyOrThrow(example, 'clinic-policy.yaml');
const olivia = { id: 'dev#olivia', groups: ['physicians'], mfa: { satisfied: true } };

function input(patientIds: string[], careRelationPatients: readonly string[] | undefined): DecisionInput {
  return {
    principal: olivia,
    request: {
      resource: 'clinic-db',
      role: 'care-team-chart',
      durationMs: 3_600_000,
      purpose: 'TREAT',
      justification: 'Morning rounds on my ward',
      ticket: undefined,
      patientIds,
    },
    now: new Date('2026-01-07T17:00:00Z'),
    chainedMs: 0,
    careRelationPatients,
  };
}

const codes = (i: DecisionInput): string[] => policy.decide(i).reasons.map((r) => r.code);

describe('care relations in the policy', () => {
  it('compiles the relation with the table’s way to the patient', () => {
    const relation = policy.roles.get('care-team-chart')!.careRelation!;
    assert.equal(relation.table, 'public.care_team');
    assert.equal(relation.requesterColumn, 'clinician');
    assert.equal(relation.requesterIdentifier, 'subject');
    assert.deepEqual(relation.patientPath, {
      hops: [{ column: 'patient_id', table: 'public.patients', referenced: 'id' }],
      idColumn: 'mrn',
    });
    assert.equal(policy.roles.get('physician-chart-review')!.careRelation, undefined);
  });

  it('allows the requester’s own patients, all of them when none are named', () => {
    const mine = ['MRN-1', 'MRN-2', 'MRN-3'];
    assert.equal(policy.decide(input(['MRN-2'], mine)).outcome, 'allow');
    assert.equal(policy.decide(input(mine, mine)).outcome, 'allow');
  });

  it('refuses patients outside the relation, saying how many and not which', () => {
    const d = policy.decide(input(['MRN-2', 'MRN-9', 'MRN-8'], ['MRN-1', 'MRN-2']));
    assert.equal(d.outcome, 'deny');
    assert.deepEqual(
      d.reasons.map((r) => r.code),
      ['patients.outside-care-relation'],
    );
    assert.deepEqual(d.reasons[0]!.details, { outside: 2 });
    assert.doesNotMatch(d.reasons[0]!.message, /MRN/);
  });

  it('refuses when the relation gives nobody, or could not be looked up (fails closed)', () => {
    assert.deepEqual(codes(input([], [])), ['patients.no-care-relation']);
    assert.deepEqual(codes(input(['MRN-1'], undefined)), ['patients.care-relation-unknown']);
    assert.deepEqual(codes(input([], undefined)), ['patients.care-relation-unknown']);
  });

  it('still caps the number of patients a relation gives', () => {
    const many = Array.from({ length: 501 }, (_, i) => `MRN-${i}`);
    assert.deepEqual(codes(input(many, many)), ['patients.too-many']);
  });

  it('refuses relations it could not enforce, on the line that says so', () => {
    assert.match(
      compileProblems(
        example.replace(/requesterColumn: clinician.*\n/, 'requesterColumn: "x; drop table"\n'),
      ),
      /is not a column name/,
    );
    assert.match(
      compileProblems(
        example.replace('patientScope: optional\n    careRelation:', 'patientScope: none\n    careRelation:'),
      ),
      /set patientScope to required or optional/,
    );
    assert.match(
      compileProblems(
        example.replace(
          '      table: public.care_team\n      requesterColumn',
          '      table: public.rota\n      requesterColumn',
        ),
      ),
      /public\.rota must be a PHI table of resource clinic-db with a patientKey/,
    );
    assert.match(
      compileProblems(
        example.replace(
          '    patientScope: optional\n    emergency: true',
          '    patientScope: optional\n    emergency: true\n    careRelation: { table: public.care_team, requesterColumn: clinician }',
        ),
      ),
      /an emergency role cannot have one/,
    );
  });
});

function compileProblems(source: string): string {
  const r = compilePolicy(source, 'p.yaml');
  assert.ok(!r.ok, 'expected the policy to be refused');
  return r.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}
