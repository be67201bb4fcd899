import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { PhigateError } from '../lib/errors.js';
import { compilePolicy, compilePolicyOrThrow } from './compile.js';
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

/** A small policy whose parts the tests below break one at a time. */
const BASE = `version: 1
settings:
  timezone: UTC
  breakGlassMaxDuration: 1h
resources:
  db: { kind: postgres }
approvalRules:
  lead:
    autoApprove:
      - { groups: [support], maxDuration: 30m }
    approvers: { groups: [leads], count: 1 }
roles:
  reader:
    resource: db
    eligibleGroups: [support]
    access:
      public.t: { columns: [a, b], operations: [SELECT] }
    duration: { default: 30m, max: 2h, cumulativeMax: 4h }
    purposes: [HOPERAT]
    approval: lead
  glass:
    resource: db
    eligibleGroups: [oncall]
    duration: { default: 30m, max: 1h }
    purposes: [ETREAT, BTG]
    emergency: true
`;

/** The source line each problem matching `message` stands on. */
function linesOf(source: string, message: RegExp): string[] {
  const all = problemsOf(source);
  const hits = all.filter((p) => message.test(p.message));
  assert.ok(hits.length > 0, `no problem matches ${message}: ${all.map((p) => p.message).join(' | ')}`);
  return hits.map((p) => source.split('\n')[(p.line ?? 0) - 1] ?? '<no line>');
}

describe('compilePolicy cross-checks, each on its own line', () => {
  it('the base policy compiles', () => assert.ok(compilePolicy(BASE, 'p.yaml').ok));

  for (const [what, from, to, message, lineHas] of [
    [
      'a role naming an unknown resource',
      'resource: db\n    eligibleGroups: [support]',
      'resource: nodb\n    eligibleGroups: [support]',
      /unknown resource nodb/,
      'resource: nodb',
    ],
    [
      'a role naming an unknown approval rule',
      'approval: lead',
      'approval: leed',
      /unknown approval rule leed/,
      'approval: leed',
    ],
    [
      'an emergency role with a non-emergency purpose',
      '[ETREAT, BTG]',
      '[ETREAT, TREAT]',
      /ETREAT or BTG, not TREAT/,
      '[ETREAT, TREAT]',
    ],
    [
      'an emergency role with an approval rule',
      'emergency: true',
      'emergency: true\n    approval: lead',
      /without approvers/,
      'approval: lead',
    ],
    [
      'an emergency role longer than breakGlassMaxDuration',
      'default: 30m, max: 1h',
      'default: 30m, max: 2h',
      /breakGlassMaxDuration/,
      'max: 2h',
    ],
    [
      'a default above the maximum',
      'default: 30m, max: 2h',
      'default: 3h, max: 2h',
      /default duration exceeds/,
      'default: 3h',
    ],
    [
      'a maximum above the cumulative maximum',
      'cumulativeMax: 4h',
      'cumulativeMax: 1h',
      /cumulativeMax is below max/,
      'cumulativeMax: 1h',
    ],
    ['an approver count below one', 'count: 1', 'count: 0', /too small|>=1/, 'count: 0'],
    [
      'an approval rule without approver groups',
      'groups: [leads]',
      'groups: []',
      /at least one approver group/,
      'groups: []',
    ],
    [
      'an approver group listed twice',
      'groups: [leads]',
      'groups: [leads, leads]',
      /listed twice/,
      'groups: [leads, leads]',
    ],
    [
      'an unknown purpose code in a role',
      'purposes: [HOPERAT]',
      'purposes: [HOPERAT, SNOOP]',
      /unknown purpose of use SNOOP/,
      'SNOOP',
    ],
    [
      'an unknown purpose code in an auto-approval',
      'maxDuration: 30m }',
      'maxDuration: 30m, purposes: [SNOOP] }',
      /unknown purpose of use SNOOP/,
      'SNOOP',
    ],
    [
      'an auto-approval condition with no criterion',
      '- { groups: [support], maxDuration: 30m }',
      '- {}',
      /at least one criterion/,
      '- {}',
    ],
    ['a table name without its schema', 'public.t:', 't:', /schema\.table/, 't: {'],
    ['a column listed twice', 'columns: [a, b]', 'columns: [a, b, a]', /listed twice/, 'columns: [a, b, a]'],
    ['an invalid duration', 'max: 2h,', 'max: P9999Y,', /years, months and weeks/, 'P9999Y'],
    ['a duration over the ceiling', 'cumulativeMax: 4h', 'cumulativeMax: 45d', /ceiling of 30d/, '45d'],
    [
      'an unknown key',
      'purposes: [HOPERAT]',
      'purposes: [HOPERAT]\n    superuser: true',
      /superuser/,
      'superuser: true',
    ],
    ['an unknown time zone', 'timezone: UTC', 'timezone: Mars/Olympus', /time zone/, 'Mars/Olympus'],
    [
      'a non-emergency role without an approval rule',
      '    approval: lead\n',
      '',
      /needs an approval rule/,
      'resource: db',
    ],
  ] as const) {
    it(`refuses ${what}`, () => {
      assert.ok(BASE.includes(from), `test setup: ${from}`);
      for (const line of linesOf(BASE.replace(from, to), message)) assert.ok(line.includes(lineHas), line);
    });
  }

  it('reports every problem at once, not only the first', () => {
    const broken = BASE.replace(
      'resource: db\n    eligibleGroups: [support]',
      'resource: nodb\n    eligibleGroups: [support]',
    ).replace('approval: lead', 'approval: leed');
    assert.ok(problemsOf(broken).length >= 2);
  });

  it('freezes what it returns and hashes the exact source text', () => {
    const a = compilePolicy(BASE, 'p.yaml');
    const b = compilePolicy(`${BASE}# a comment changes the version\n`, 'p.yaml');
    assert.ok(a.ok && b.ok);
    assert.notEqual(a.policy.hash, b.policy.hash);
    assert.ok(Object.isFrozen(a.policy) && Object.isFrozen(a.policy.roles.get('reader')));
    assert.throws(() => {
      (a.policy.roles.get('reader')!.eligibleGroups as string[]).push('everyone');
    }, TypeError);
  });

  it('compilePolicyOrThrow names the file and line', () => {
    assert.throws(
      () => compilePolicyOrThrow(BASE.replace('approval: lead', 'approval: leed'), 'p.yaml'),
      (e: PhigateError) =>
        e.code === 'policy.invalid' && /p\.yaml:20: roles\.reader\.approval/.test(e.message),
    );
  });
});
