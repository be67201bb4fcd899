import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicy } from './compile.js';
import { policyWarnings } from './warnings.js';

const example = readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8');

/** The example with one more role reading `public.observations` through `columns`. */
function withObservationsRole(columns: string): string {
  return example.replace(
    'roles:\n',
    'roles:\n  vitals:\n    resource: clinic-db\n    eligibleGroups: [analysts]\n    access:\n' +
      `      public.observations: { columns: [${columns}], operations: [SELECT] }\n` +
      '    duration: { default: 30m, max: 1h }\n    purposes: [HOPERAT]\n    approval: one-lead\n',
  );
}

function warningsOf(source: string) {
  const r = compilePolicy(source, 'p.yaml');
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return policyWarnings(r.policy);
}

describe('policy warnings', () => {
  it('warns when a role reads a PHI table through columns holding no patient key', () => {
    const warnings = warningsOf(withObservationsRole('id, observed_at, code, value'));
    const mine = warnings.filter((w) => w.role === 'vitals');
    assert.deepEqual(
      mine.map((w) => [w.code, w.table]),
      [['phi.no-patient-key', 'public.observations']],
    );
    assert.match(mine[0]!.message, /cannot be attributed to patients/);
  });

  it('does not warn when the foreign key to the patient is among the columns', () => {
    const warnings = warningsOf(withObservationsRole('id, encounter_id, observed_at, code, value'));
    assert.deepEqual(
      warnings.filter((w) => w.role === 'vitals'),
      [],
    );
  });
});
