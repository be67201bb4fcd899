import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicyOrThrow } from './compile.js';
import { runPolicyTests } from './policy-tests.js';

const policy = compilePolicyOrThrow(
  readFileSync(new URL('../../examples/clinic-policy.yaml', import.meta.url), 'utf8'),
  'clinic-policy.yaml',
);

const supportCase = (expect: string, extra = ''): string => `  - name: support look-up
    principal: { id: 'dev#alice', groups: [support] }
    request:
      resource: clinic-db
      role: support-encounters-read
      duration: 15m
      purpose: HOPERAT
      justification: 'Ticket SUP-1: scheduling sync failed'
${extra}    expect: ${expect}
`;

function run(source: string) {
  const r = runPolicyTests(policy, source);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.results;
}

describe('runPolicyTests', () => {
  it('passes a case whose outcome, mode and reasons match (decided at the fixed default instant)', () => {
    const [r] = run(
      `cases:\n${supportCase('{ outcome: allow, mode: auto, reasons: [auto-approve.matched] }')}`,
    );
    assert.deepEqual(r, {
      name: 'support look-up',
      passed: true,
      actual: 'allow (auto) [auto-approve.matched]',
      message: 'ok',
    });
  });

  it('fails a case on the wrong outcome, mode or a missing reason, with a diff message', () => {
    const results = run(
      `cases:\n${supportCase('{ outcome: needs-approval }')}${supportCase('{ outcome: allow, mode: break-glass }')}${supportCase(
        '{ outcome: allow, reasons: [break-glass] }',
      )}`,
    );
    assert.deepEqual(
      results.map((r) => r.passed),
      [false, false, false],
    );
    assert.equal(results[0]?.message, 'expected needs-approval, got allow (auto) [auto-approve.matched]');
    assert.match(results[1]?.message ?? '', /expected allow \(break-glass\)/);
    assert.match(results[2]?.message ?? '', /with \[break-glass\]/);
  });

  it('uses the case time and chain when given', () => {
    const [night, chained] = run(
      `cases:\n${supportCase('{ outcome: needs-approval }', "    now: '2026-01-08T04:00:00Z'\n")}${supportCase(
        '{ outcome: deny, reasons: [duration.chain-over-max] }',
        '    chainedMs: 14400000\n',
      )}`,
    );
    assert.ok(night?.passed, night?.message);
    assert.ok(chained?.passed, chained?.message);
  });

  it('reports a case with an unreadable duration as failed, not as a decision', () => {
    const [r] = run(
      `cases:\n${supportCase('{ outcome: deny }').replace('duration: 15m', 'duration: P9999Y')}`,
    );
    assert.equal(r?.passed, false);
    assert.equal(r?.actual, 'invalid case');
    assert.match(r?.message ?? '', /years, months and weeks/);
  });

  it('refuses an invalid test file with the line of each problem', () => {
    const source = `cases:\n${supportCase('{ outcome: allow }')}${supportCase('{ outcome: maybe }', '    approvedBy: carol\n')}`;
    const r = runPolicyTests(policy, source);
    assert.ok(!r.ok);
    const lines = source.split('\n');
    const onLine = (text: string) => r.problems.find((p) => p.line && lines[p.line - 1]?.includes(text));
    assert.ok(onLine('approvedBy: carol'), JSON.stringify(r.problems));
    assert.ok(onLine('outcome: maybe'), JSON.stringify(r.problems));
    assert.ok(!runPolicyTests(policy, 'cases: [').ok);
    assert.ok(!runPolicyTests(policy, 'cases: []').ok);
  });
});
