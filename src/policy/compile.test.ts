import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicy } from './compile.js';
import { runPolicyTests } from './policy-tests.js';

const example = readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8');

function problemsOf(source: string): { path: string; line: number | undefined; message: string }[] {
  const r = compilePolicy(source, 'p.yaml');
  assert.ok(!r.ok, 'expected the policy to be refused');
  return [...r.problems];
}

describe('compilePolicy', () => {
  it('compiles the example and hashes its source', () => {
    const r = compilePolicy(example, 'clinic-policy.yaml');
    assert.ok(r.ok);
    assert.match(r.policy.hash, /^[0-9a-f]{64}$/);
    assert.equal(r.policy.roles.get('analyst-encounters')?.maxDurationMs, 4 * 3_600_000);
    assert.equal(r.policy.pendingTimeoutMs, 24 * 3_600_000);
  });

  it('the example passes its own decision tests', () => {
    const r = compilePolicy(example, 'clinic-policy.yaml');
    assert.ok(r.ok);
    const run = runPolicyTests(
      r.policy,
      readFileSync(new URL('../../examples/clinic-policy.tests.yaml', import.meta.url), 'utf8'),
    );
    assert.ok(run.ok);
    assert.deepEqual(
      run.results.filter((x) => !x.passed),
      [],
    );
  });

  it('reports cross-reference errors on the line that holds them', () => {
    const broken = example
      .replace('approval: one-lead', 'approval: no-such-rule')
      .replace('purposes: [ETREAT, BTG]', 'purposes: [ETREAT, TREAT]');
    const problems = problemsOf(broken);
    const lines = broken.split('\n');
    const rule = problems.find((p) => p.message.includes('unknown approval rule'));
    assert.ok(rule?.line && lines[rule.line - 1]?.includes('no-such-rule'));
    const purpose = problems.find((p) => p.message.includes('ETREAT or BTG'));
    assert.ok(purpose?.line && lines[purpose.line - 1]?.includes('TREAT'));
  });

  it('refuses unknown keys, bad durations, default above max, and emergency roles above the break-glass cap', () => {
    assert.ok(
      problemsOf(
        example.replace('eligibleGroups: [analysts]', 'eligibleGroups: [analysts]\n    superuser: true'),
      ).length > 0,
    );
    assert.match(
      problemsOf(example.replace('default: 30m, max: 4h', 'default: 30m, max: P9999Y'))
        .map((p) => p.message)
        .join(),
      /invalid duration/,
    );
    assert.match(
      problemsOf(example.replace('default: 30m, max: 4h', 'default: 5h, max: 4h'))
        .map((p) => p.message)
        .join(),
      /default duration exceeds/,
    );
    assert.match(
      problemsOf(example.replace('default: 30m, max: 1h }', 'default: 30m, max: 3h }'))
        .map((p) => p.message)
        .join(),
      /breakGlassMaxDuration/,
    );
  });

  it('refuses a non-emergency role using emergency purposes (break-glass is always reviewed)', () => {
    assert.match(
      problemsOf(example.replace('purposes: [TREAT, COC]', 'purposes: [TREAT, BTG]'))
        .map((p) => p.message)
        .join(),
      /reserved for emergency/,
    );
  });

  it('refuses an unknown time zone and table names without a schema', () => {
    assert.match(
      problemsOf(example.replace('America/New_York', 'Mars/Olympus'))
        .map((p) => p.message)
        .join(),
      /time zone/,
    );
    assert.match(
      problemsOf(example.replace('public.notes:', 'notes:'))
        .map((p) => p.message)
        .join(),
      /schema\.table/,
    );
  });

  it('refuses a key given twice (a policy must mean one thing)', () => {
    assert.ok(problemsOf(`${example}\nroles: {}\n`).length > 0);
  });
});
