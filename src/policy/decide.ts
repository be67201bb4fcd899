/**
 * `decide()`: allow, needs-approval or deny, with machine-readable reasons. Pure and allocation-light — it runs on
 * every request — so every check is a map or set lookup; nothing scans the list of roles.
 */
import { EMERGENCY_PURPOSES, isPurposeOfUse } from './purpose-of-use.js';
import type { AutoApproveCondition, IndexedRole, PolicyIndex } from './policy-index.js';
import type { Decision, DecisionInput, Reason } from './types.js';
import { formatDuration } from '../lib/duration.js';

const MAX_PATIENT_ID_LENGTH = 64;
/** Ids that read as "everyone": a patient scope names patients, never a pattern. */
const WILDCARD_IDS = new Set(['*', '%', 'all', 'any', '_']);

/** Request text echoed in a message is cut short: a reason explains, it does not carry the caller's payload. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function hasAny(groups: readonly string[], set: ReadonlySet<string>): boolean {
  for (const g of groups) if (set.has(g)) return true;
  return false;
}

function badPatientId(id: string): boolean {
  if (id.length === 0 || id.length > MAX_PATIENT_ID_LENGTH || id.trim() !== id) return true;
  if (WILDCARD_IDS.has(id.toLowerCase()) || id.includes('*') || id.includes('%')) return true;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function checkRequest(index: PolicyIndex, role: IndexedRole, input: DecisionInput, reasons: Reason[]): void {
  const { request, principal } = input;
  const def = role.definition;
  if (def.resource !== request.resource) {
    reasons.push({
      code: 'role.wrong-resource',
      message: `role ${def.name} grants access to ${def.resource}, not ${quoted(request.resource)}`,
    });
  }
  if (!hasAny(principal.groups, role.eligible)) {
    reasons.push({
      code: 'role.not-eligible',
      message: `role ${def.name} is for members of ${def.eligibleGroups.join(', ')}`,
      details: { eligibleGroups: def.eligibleGroups },
    });
  }
  if (def.requireMfa && !principal.mfa.satisfied) {
    reasons.push({
      code: 'mfa.required',
      message: `role ${def.name} requires a multi-factor sign-in`,
    });
  }
  if (!isPurposeOfUse(request.purpose)) {
    reasons.push({
      code: 'purpose.unknown',
      message: `unknown purpose of use ${quoted(request.purpose)}`,
    });
  } else if (!role.purposes.has(request.purpose)) {
    reasons.push({
      code: 'purpose.not-allowed',
      message: `role ${def.name} may be used for ${def.purposes.join(', ')} only`,
      details: { allowed: def.purposes },
    });
  }
  const justification = request.justification.trim();
  const { minLength, maxLength } = index.justification;
  if (justification.length === 0) {
    reasons.push({ code: 'justification.missing', message: 'a justification is required' });
  } else if (justification.length < minLength) {
    reasons.push({
      code: 'justification.too-short',
      message: `the justification must be at least ${minLength} characters`,
      details: { limit: minLength },
    });
  } else if (request.justification.length > maxLength) {
    reasons.push({
      code: 'justification.too-long',
      message: `the justification may be at most ${maxLength} characters`,
      details: { limit: maxLength },
    });
  }
  const duration = request.durationMs;
  if (!Number.isFinite(duration) || duration <= 0) {
    reasons.push({ code: 'duration.invalid', message: 'the duration must be positive' });
  } else if (duration > def.maxDurationMs) {
    reasons.push({
      code: 'duration.over-max',
      message: `role ${def.name} may be granted for at most ${formatDuration(def.maxDurationMs)}`,
      details: { limitMs: def.maxDurationMs },
    });
  } else if (!Number.isFinite(input.chainedMs) || input.chainedMs < 0) {
    // The store computes the chain; a value it could not compute must not read as "nothing granted yet".
    reasons.push({
      code: 'duration.chain-unknown',
      message: 'the time already granted for this role could not be determined',
    });
  } else if (input.chainedMs + duration > def.cumulativeMaxMs) {
    reasons.push({
      code: 'duration.chain-over-max',
      message:
        `back-to-back grants of ${def.name} may total at most ${formatDuration(def.cumulativeMaxMs)}; ` +
        `${formatDuration(input.chainedMs)} already granted`,
      details: { limitMs: def.cumulativeMaxMs, chainedMs: input.chainedMs },
    });
  }
  const ids = request.patientIds;
  if (def.patientScope === 'none' && ids.length > 0) {
    reasons.push({ code: 'patients.not-allowed', message: `role ${def.name} is not scoped to patients` });
  } else if (def.patientScope === 'required' && ids.length === 0 && def.careRelation === undefined) {
    reasons.push({
      code: 'patients.required',
      message: `role ${def.name} requires the patient ids it is for`,
    });
  } else if (ids.length > index.maxPatientIds) {
    reasons.push({
      code: 'patients.too-many',
      message: `at most ${index.maxPatientIds} patients per request`,
      details: { limit: index.maxPatientIds },
    });
  } else if (ids.some(badPatientId)) {
    reasons.push({
      code: 'patients.invalid',
      message: 'patient ids must be 1–64 printable characters and name one patient each (no wildcards)',
    });
  } else if (def.careRelation !== undefined) {
    careRelationReasons(def.careRelation.table, ids, input.careRelationPatients, reasons);
  }
}

/**
 * A role with a care relation reaches the requester's patients only, and only while the relation holds. A request
 * naming none is for all of them (the caller stores them as the grant's patients).
 */
function careRelationReasons(
  table: string,
  ids: readonly string[],
  related: readonly string[] | undefined,
  reasons: Reason[],
): void {
  if (related === undefined) {
    reasons.push({
      code: 'patients.care-relation-unknown',
      message: `your care relations (${table}) could not be looked up`,
    });
  } else if (ids.length === 0) {
    if (related.length === 0)
      reasons.push({
        code: 'patients.no-care-relation',
        message: `${table} relates you to no patient at present`,
      });
  } else {
    const mine = new Set(related);
    const outside = ids.filter((id) => !mine.has(id)).length;
    if (outside > 0)
      reasons.push({
        code: 'patients.outside-care-relation',
        message: `${outside} of the patients named ${outside === 1 ? 'is' : 'are'} not related to you in ${table}`,
        details: { outside },
      });
  }
}

function autoApproves(index: PolicyIndex, c: AutoApproveCondition, input: DecisionInput): boolean {
  const { principal, request } = input;
  if (c.groups && !hasAny(principal.groups, c.groups)) return false;
  if (c.maxDurationMs !== undefined && request.durationMs > c.maxDurationMs) return false;
  if (c.purposes && !c.purposes.has(request.purpose)) return false;
  if (c.businessHoursOnly && !index.isBusinessHours(input.now)) return false;
  return true;
}

export function decide(index: PolicyIndex, input: DecisionInput): Decision {
  const { request } = input;
  if (!index.resources.has(request.resource)) {
    return {
      outcome: 'deny',
      reasons: [{ code: 'resource.unknown', message: `unknown resource ${quoted(request.resource)}` }],
    };
  }
  const role = index.roles.get(request.role);
  if (!role) {
    return {
      outcome: 'deny',
      reasons: [{ code: 'role.unknown', message: `unknown role ${quoted(request.role)}` }],
    };
  }
  const reasons: Reason[] = [];
  checkRequest(index, role, input, reasons);
  if (reasons.length > 0) return { outcome: 'deny', reasons };

  if (role.definition.emergency) {
    if (!EMERGENCY_PURPOSES.has(request.purpose) || request.durationMs > index.breakGlassMaxMs) {
      // The compiler already refuses such roles; this is the second line.
      return {
        outcome: 'deny',
        reasons: [{ code: 'break-glass.invalid', message: 'not a valid emergency request' }],
      };
    }
    return {
      outcome: 'allow',
      mode: 'break-glass',
      reasons: [
        {
          code: 'break-glass',
          message: 'emergency access: active at once, reviewed afterwards',
          details: { purpose: request.purpose },
        },
      ],
    };
  }
  for (let i = 0; i < role.autoApprove.length; i++) {
    if (autoApproves(index, role.autoApprove[i]!, input)) {
      return {
        outcome: 'allow',
        mode: 'auto',
        reasons: [
          {
            code: 'auto-approve.matched',
            message: `auto-approved by rule ${role.requirement?.rule ?? ''} condition ${i + 1}`,
            details: { rule: role.requirement?.rule, condition: i + 1 },
          },
        ],
      };
    }
  }
  const requirement = role.requirement!;
  // Approvers phigate can link are worth nothing if the requester is someone it cannot: their own other account
  // would look like a stranger. Refused now rather than left pending for approvers who can never be told apart.
  if (requirement.requirePerson && (input.principal.personKeys ?? []).length === 0) {
    return {
      outcome: 'deny',
      reasons: [
        {
          code: 'person.unknown',
          message:
            'this role’s approvers must be told apart from the requester: sign in with a verified e-mail ' +
            'address or a person claim',
          details: { rule: requirement.rule },
        },
      ],
    };
  }
  return {
    outcome: 'needs-approval',
    requirement,
    reasons: [
      {
        code: 'approval.required',
        message: `needs ${requirement.count} approval(s) from ${requirement.groups.join(requirement.fromEachGroup ? ' and ' : ' or ')}`,
        details: { rule: requirement.rule },
      },
    ],
  };
}
