/**
 * Policy test cases: "this person asking for this → this decision". Lets a policy author change a policy and know
 * what the change does before it is in force (`phigate policy test POLICY --cases CASES`). Pure.
 */
import { z } from 'zod';
import { PhigateError } from '../lib/errors.js';
import { parseYamlWith, type SourceProblem } from '../lib/yaml-source.js';
import { parseDuration } from '../lib/duration.js';
import type { CompiledPolicy, Decision } from './types.js';

/** Cases without `now` are decided at this instant, so that results never depend on when the tests run. */
export const DEFAULT_TEST_NOW = '2026-01-07T17:00:00Z'; // a Wednesday, noon in New York

const caseSchema = z.strictObject({
  name: z.string().min(1).max(200),
  principal: z.strictObject({
    id: z.string().min(1),
    groups: z.array(z.string()).default([]),
    mfa: z.boolean().default(false),
    /** Opaque person keys (a verified e-mail, a person claim): rules with `requirePerson` need some. */
    personKeys: z.array(z.string()).default([]),
  }),
  request: z.strictObject({
    resource: z.string(),
    role: z.string(),
    duration: z.string().optional(),
    purpose: z.string(),
    justification: z.string().default(''),
    ticket: z.string().optional(),
    patientIds: z.array(z.string()).default([]),
  }),
  now: z.iso.datetime({ offset: true }).optional(),
  chainedMs: z.number().int().min(0).default(0),
  /** For a role with a care relation: the patients it relates the principal to (phigate looks them up; a case says). */
  careRelationPatients: z.array(z.string()).optional(),
  expect: z.strictObject({
    outcome: z.enum(['allow', 'needs-approval', 'deny']),
    mode: z.enum(['auto', 'break-glass']).optional(),
    reasons: z.array(z.string()).default([]),
  }),
});

const fileSchema = z.strictObject({ cases: z.array(caseSchema).min(1) });

export interface PolicyTestResult {
  readonly name: string;
  readonly passed: boolean;
  /** What was decided, e.g. `deny [duration.over-max]`. */
  readonly actual: string;
  readonly message: string;
}

export type PolicyTestRun =
  | { readonly ok: true; readonly results: readonly PolicyTestResult[] }
  | { readonly ok: false; readonly problems: readonly SourceProblem[] };

function describeDecision(d: Decision): string {
  const mode = d.outcome === 'allow' ? ` (${d.mode})` : '';
  return `${d.outcome}${mode} [${d.reasons.map((r) => r.code).join(', ')}]`;
}

export function runPolicyTests(policy: CompiledPolicy, source: string): PolicyTestRun {
  const parsed = parseYamlWith(source, fileSchema);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  const results = parsed.value.cases.map((c): PolicyTestResult => {
    let durationMs: number;
    try {
      const role = policy.roles.get(c.request.role);
      durationMs = c.request.duration ? parseDuration(c.request.duration) : (role?.defaultDurationMs ?? 0);
    } catch (err) {
      return {
        name: c.name,
        passed: false,
        actual: 'invalid case',
        message: err instanceof PhigateError ? err.message : String(err),
      };
    }
    const decision = policy.decide({
      principal: {
        id: c.principal.id,
        groups: c.principal.groups,
        mfa: { satisfied: c.principal.mfa },
        personKeys: c.principal.personKeys,
      },
      request: {
        resource: c.request.resource,
        role: c.request.role,
        durationMs,
        purpose: c.request.purpose,
        justification: c.request.justification,
        ticket: c.request.ticket,
        // As phigate does: a request naming nobody is for every patient of the care relation.
        patientIds:
          c.request.patientIds.length === 0 && policy.roles.get(c.request.role)?.careRelation !== undefined
            ? (c.careRelationPatients ?? [])
            : c.request.patientIds,
      },
      now: new Date(c.now ?? DEFAULT_TEST_NOW),
      chainedMs: c.chainedMs,
      careRelationPatients: c.careRelationPatients,
    });
    const codes = new Set(decision.reasons.map((r) => r.code));
    const missing = c.expect.reasons.filter((r) => !codes.has(r));
    const modeOk =
      c.expect.mode === undefined || (decision.outcome === 'allow' && decision.mode === c.expect.mode);
    const passed = decision.outcome === c.expect.outcome && missing.length === 0 && modeOk;
    const expected = `${c.expect.outcome}${c.expect.mode ? ` (${c.expect.mode})` : ''}${
      c.expect.reasons.length ? ` with [${c.expect.reasons.join(', ')}]` : ''
    }`;
    return {
      name: c.name,
      passed,
      actual: describeDecision(decision),
      message: passed ? 'ok' : `expected ${expected}, got ${describeDecision(decision)}`,
    };
  });
  return { ok: true, results };
}
