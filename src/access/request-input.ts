/**
 * Strict validation of what a requester submits, before the policy sees it. The policy decides what a role allows
 * (maximum duration, purposes, patient scope, justification length, patient count and id format) and names those
 * limits in its reasons; this file only makes sure the input has the right shape and stays under absolute ceilings
 * (the largest any policy or the API accepts), and that nothing but the documented fields gets through (the API
 * validates too; this is defence in depth against mass assignment: status, approvers, times and the requester are
 * never taken from input). Ceilings here must never be stricter than what a policy may configure.
 */
import { PhigateError } from '../lib/errors.js';
import { parseDuration } from '../lib/duration.js';
import type { RequestFacts } from '../policy/types.js';
import { canonicalPatientIds } from './scope-hash.js';
import type { NewRequest } from './types.js';

export const REQUEST_LIMITS = Object.freeze({
  nameLength: 100,
  purposeLength: 32,
  /** The policy schema's largest `justification.maxLength`. */
  justificationLength: 10_000,
  ticketLength: 200,
  durationTextLength: 40,
  /** The policy schema's largest `maxPatientIds`. */
  patientIds: 10_000,
  patientIdLength: 64,
});

const FIELDS = new Set<keyof NewRequest>([
  'resource',
  'role',
  'duration',
  'purpose',
  'justification',
  'ticket',
  'patientIds',
]);
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const PURPOSE = /^[A-Za-z0-9_-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;

function invalid(code: string, message: string, details: Record<string, unknown> = {}): PhigateError {
  return new PhigateError('invalid', code, message, details);
}

function name(value: unknown, field: 'resource' | 'role'): string {
  if (typeof value !== 'string' || value.length > REQUEST_LIMITS.nameLength || !NAME.test(value)) {
    throw invalid(
      `request.${field}-invalid`,
      `${field} must be a name of letters, digits, '_', '.', ':' or '-'`,
      {
        field,
        maxLength: REQUEST_LIMITS.nameLength,
      },
    );
  }
  return value;
}

/**
 * @param defaultDurationMs the role's default, used when no duration is given (undefined when the role is unknown:
 *   the policy then refuses the role).
 */
export function validateNewRequest(
  input: NewRequest,
  defaultDurationMs: (role: string) => number | undefined,
): RequestFacts {
  if (typeof input !== 'object' || input === null)
    throw invalid('request.invalid', 'the request must be an object');
  const unknown = Object.keys(input).filter((k) => !FIELDS.has(k as keyof NewRequest));
  if (unknown.length > 0) {
    throw invalid('request.unknown-field', `unknown field(s): ${unknown.slice(0, 5).join(', ')}`, {
      fields: unknown.slice(0, 20),
    });
  }
  const resource = name(input.resource, 'resource');
  const role = name(input.role, 'role');

  const purpose: unknown = input.purpose;
  if (
    typeof purpose !== 'string' ||
    purpose.length > REQUEST_LIMITS.purposeLength ||
    !PURPOSE.test(purpose)
  ) {
    throw invalid(
      'purpose.invalid',
      'purpose must be an HL7 v3 purpose-of-use code such as TREAT or HOPERAT',
      {
        field: 'purpose',
      },
    );
  }

  // An empty one passes: the policy refuses it as `justification.missing` with its configured minimum.
  const justification: unknown = input.justification;
  if (typeof justification !== 'string') {
    throw invalid('justification.invalid', 'the justification must be text', { field: 'justification' });
  }
  if (justification.length > REQUEST_LIMITS.justificationLength) {
    throw invalid(
      'justification.too-long',
      `the justification is limited to ${REQUEST_LIMITS.justificationLength} characters`,
      {
        field: 'justification',
        maxLength: REQUEST_LIMITS.justificationLength,
        length: justification.length,
      },
    );
  }
  if (NUL.test(justification)) {
    throw invalid('justification.invalid', 'the justification must not contain NUL characters', {
      field: 'justification',
    });
  }

  const ticket: unknown = input.ticket;
  if (
    ticket !== undefined &&
    (typeof ticket !== 'string' ||
      ticket.length === 0 ||
      ticket.length > REQUEST_LIMITS.ticketLength ||
      CONTROL.test(ticket))
  ) {
    throw invalid(
      'ticket.invalid',
      `a ticket reference is 1 to ${REQUEST_LIMITS.ticketLength} printable characters`,
      {
        field: 'ticket',
        maxLength: REQUEST_LIMITS.ticketLength,
      },
    );
  }

  const patientIds = validatePatientIds(input.patientIds);
  const durationMs = validateDuration(input.duration, defaultDurationMs(role));
  return { resource, role, durationMs, purpose, justification, ticket, patientIds };
}

function validatePatientIds(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw invalid('patients.invalid', 'patientIds must be a list', { field: 'patientIds' });
  if (value.length > REQUEST_LIMITS.patientIds) {
    throw invalid('patients.too-many', `at most ${REQUEST_LIMITS.patientIds} patient ids per request`, {
      field: 'patientIds',
      limit: REQUEST_LIMITS.patientIds,
      count: value.length,
    });
  }
  for (const id of value as unknown[]) {
    // Wildcards and patterns are the policy's to refuse (`patients.invalid`); control characters (NUL cannot even
    // be stored) never reach it.
    if (typeof id !== 'string' || id.length > REQUEST_LIMITS.patientIdLength || CONTROL.test(id)) {
      throw invalid(
        'patients.invalid',
        `patient ids are 1 to ${REQUEST_LIMITS.patientIdLength} printable characters`,
        {
          field: 'patientIds',
          maxLength: REQUEST_LIMITS.patientIdLength,
        },
      );
    }
  }
  return canonicalPatientIds(value as string[]);
}

function validateDuration(value: unknown, fallback: number | undefined): number {
  if (value === undefined) return fallback ?? 0;
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > REQUEST_LIMITS.durationTextLength ||
    CONTROL.test(value)
  ) {
    throw invalid('duration.invalid', 'duration must be like 30m, 2h, 1h30m or ISO 8601 (PT45M)', {
      field: 'duration',
    });
  }
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw invalid(
      'duration.invalid',
      `duration ${JSON.stringify(value)} is not valid: ${(err as Error).message}`,
      {
        field: 'duration',
      },
    );
  }
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw invalid('duration.invalid', 'duration must be a positive length of time', { field: 'duration' });
  }
  return ms;
}
