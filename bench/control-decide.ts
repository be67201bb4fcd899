/**
 * decide() latency with 10 and with 1,000 roles, side by side in one run.
 * Targets (issue 2): p50 ≤ 10 µs and p99 ≤ 50 µs with 1,000 roles; p50(1,000) ≤ 1.5 × p50(10).
 * Run: npx tsx bench/control-decide.ts
 */
import { compilePolicyOrThrow } from '../src/policy/compile.js';
import type { CompiledPolicy, DecisionInput } from '../src/policy/types.js';

function policyWithRoles(n: number): string {
  const roles = Array.from({ length: n }, (_, i) =>
    [
      `  role-${i}:`,
      '    resource: db',
      `    eligibleGroups: [group-${i % 50}, everyone]`,
      '    access: { public.t: { columns: [a, b], operations: [SELECT] } }',
      '    duration: { default: 30m, max: 4h, cumulativeMax: 8h }',
      '    purposes: [TREAT, HOPERAT]',
      '    patientScope: optional',
      `    approval: ${i % 2 === 0 ? 'auto' : 'lead'}`,
    ].join('\n'),
  );
  return [
    'version: 1',
    'resources: { db: { kind: postgres } }',
    'approvalRules:',
    '  auto: { autoApprove: [ { groups: [everyone], maxDuration: 1h, businessHoursOnly: true } ], approvers: { groups: [leads] } }',
    '  lead: { approvers: { groups: [leads], count: 2 } }',
    'roles:',
    ...roles,
  ].join('\n');
}

function measure(policy: CompiledPolicy, roles: number, iterations: number): { p50: number; p99: number } {
  const inputs: DecisionInput[] = Array.from({ length: 256 }, (_, i) => ({
    principal: { id: `u${i}`, groups: [`group-${i % 50}`, 'everyone'], mfa: { satisfied: true } },
    request: {
      resource: 'db',
      role: `role-${(i * 7919) % roles}`,
      durationMs: 1_800_000,
      purpose: 'TREAT',
      justification: 'Benchmark justification text',
      ticket: undefined,
      patientIds: ['MRN-1', 'MRN-2'],
    },
    now: new Date('2026-01-07T15:00:00Z'),
    chainedMs: 0,
  }));
  const samples = new Float64Array(iterations);
  let sink = 0;
  for (let i = 0; i < iterations; i++) {
    const input = inputs[i & 255]!;
    const t0 = process.hrtime.bigint();
    sink += policy.decide(input).reasons.length;
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  if (sink < 0) console.log(sink);
  samples.sort();
  return { p50: samples[Math.floor(iterations * 0.5)]!, p99: samples[Math.floor(iterations * 0.99)]! };
}

const small = compilePolicyOrThrow(policyWithRoles(10), 'bench-10');
const large = compilePolicyOrThrow(policyWithRoles(1000), 'bench-1000');
// Warm up both (JIT), then interleave rounds so that machine noise hits both alike.
measure(small, 10, 50_000);
measure(large, 1000, 50_000);
const rounds = 5;
const r10: { p50: number; p99: number }[] = [];
const r1000: { p50: number; p99: number }[] = [];
for (let r = 0; r < rounds; r++) {
  r10.push(measure(small, 10, 200_000));
  r1000.push(measure(large, 1000, 200_000));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p50s = median(r10.map((x) => x.p50));
const p99s = median(r10.map((x) => x.p99));
const p50l = median(r1000.map((x) => x.p50));
const p99l = median(r1000.map((x) => x.p99));
console.log(`decide()    10 roles: p50 ${p50s.toFixed(2)} µs  p99 ${p99s.toFixed(2)} µs`);
console.log(`decide() 1,000 roles: p50 ${p50l.toFixed(2)} µs  p99 ${p99l.toFixed(2)} µs`);
console.log(`ratio p50(1,000)/p50(10): ${(p50l / p50s).toFixed(2)}× (target ≤ 1.5×)`);
console.log(
  `targets: p50 ≤ 10 µs ${p50l <= 10 ? 'met' : 'MISSED'}, p99 ≤ 50 µs ${p99l <= 50 ? 'met' : 'MISSED'}, ` +
    `ratio ${p50l / p50s <= 1.5 ? 'met' : 'MISSED'}`,
);
