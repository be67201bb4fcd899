/**
 * JSON schemas of the API: they validate input (strict: unknown fields are refused, which is also what stops mass
 * assignment of `status`, `approvedBy`, `expiresAt`, `requester`), shape output, and feed the OpenAPI document.
 */
import { REVIEW_OUTCOMES } from '../access/types.js';

export const MAX_PATIENT_IDS = 500;

/**
 * Names and codes (resource, role, purpose, duration) are single-line identifiers: no control characters, which also
 * keeps NUL (which PostgreSQL text cannot hold) from reaching the store as a 503 instead of a 400.
 */
const NO_CONTROL_CHARS = '^[^\\u0000-\\u001f\\u007f]*$';

const dateTime = { type: 'string', format: 'date-time' } as const;
const reason = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
} as const;
const requirement = {
  type: 'object',
  properties: {
    rule: { type: 'string' },
    count: { type: 'integer' },
    groups: { type: 'array', items: { type: 'string' } },
    fromEachGroup: { type: 'boolean' },
    requireMfa: { type: 'boolean' },
  },
} as const;

export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; `code` is stable and machine-readable.',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    instance: { type: 'string', description: 'This occurrence: the request id the server logs carry' },
    field: { type: 'string', description: '400 off the schema: where the first violation is' },
    errors: {
      type: 'array',
      description: '400 off the schema: every violation (at most 20), where and what',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  additionalProperties: true,
} as const;

export const requestViewSchema = {
  $id: 'AccessRequest',
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: {
      type: 'string',
      enum: ['pending', 'active', 'expired', 'revoked', 'denied', 'cancelled', 'timed-out'],
    },
    requester: { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' } } },
    resource: { type: 'string' },
    role: { type: 'string' },
    durationMs: { type: 'integer' },
    purpose: { type: 'string' },
    justification: { type: 'string' },
    ticket: { type: 'string' },
    patientIds: { type: 'array', items: { type: 'string' } },
    patientsFound: {
      type: 'integer',
      description:
        'How many of patientIds the protected database held when the request was made (a request naming an ' +
        'unknown patient is refused); absent when phigate could not look there',
    },
    emergency: { type: 'boolean' },
    policyHash: { type: 'string' },
    scopeHash: { type: 'string' },
    decision: {
      type: 'object',
      properties: { outcome: { type: 'string' }, reasons: { type: 'array', items: reason } },
    },
    requirement,
    approvals: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          approverId: { type: 'string' },
          approverName: { type: 'string' },
          verdict: { type: 'string', enum: ['approve', 'deny'] },
          comment: { type: 'string' },
          at: dateTime,
          valid: { type: 'boolean' },
        },
      },
    },
    createdAt: dateTime,
    pendingUntil: dateTime,
    decidedAt: dateTime,
    activatedAt: dateTime,
    expiresAt: dateTime,
    endedAt: dateTime,
    endReason: { type: 'string' },
    endedBy: { type: 'string' },
  },
} as const;

export const requestPageSchema = {
  type: 'object',
  properties: {
    items: { type: 'array', items: { $ref: 'AccessRequest#' } },
    nextCursor: { type: 'string' },
  },
} as const;

export const newRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['resource', 'role', 'purpose', 'justification'],
  properties: {
    resource: { type: 'string', minLength: 1, maxLength: 100, pattern: NO_CONTROL_CHARS },
    role: { type: 'string', minLength: 1, maxLength: 100, pattern: NO_CONTROL_CHARS },
    duration: {
      type: 'string',
      minLength: 1,
      maxLength: 40,
      pattern: NO_CONTROL_CHARS,
      description: '30m, 2h, 1h30m or ISO 8601 (PT45M)',
    },
    purpose: {
      type: 'string',
      minLength: 1,
      maxLength: 20,
      pattern: NO_CONTROL_CHARS,
      description: 'HL7 v3 PurposeOfUse code, e.g. TREAT',
    },
    justification: { type: 'string', maxLength: 10_000 },
    ticket: { type: 'string', minLength: 1, maxLength: 200 },
    patientIds: {
      type: 'array',
      maxItems: MAX_PATIENT_IDS,
      items: { type: 'string', minLength: 1, maxLength: 64 },
    },
  },
} as const;

export const commentBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 2000 } },
} as const;

/** Cancel takes no fields; a body that brings some is refused like any other unknown field. */
export const emptyBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
} as const;

export const reasonBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: 2000 } },
} as const;

/** Closing a break-glass review: the reviewer's finding, and optional notes. */
export const reviewBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['outcome'],
  properties: {
    outcome: { type: 'string', enum: [...REVIEW_OUTCOMES] },
    notes: { type: 'string', maxLength: 2000 },
  },
} as const;

export const idParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 100 } },
} as const;

export const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scope: { type: 'string', enum: ['mine', 'approvable', 'all'] },
    status: { type: 'string', maxLength: 200, description: 'comma-separated statuses' },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    cursor: { type: 'string', maxLength: 500 },
  },
} as const;

export const roleViewSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    resource: { type: 'string' },
    defaultDurationMs: { type: 'integer' },
    maxDurationMs: { type: 'integer' },
    purposes: { type: 'array', items: { type: 'string' } },
    emergency: { type: 'boolean' },
    patientScope: { type: 'string' },
    /** For a role whose patients come from a care relation: its table (a request may then name none). */
    careRelation: { type: 'string' },
    approval: requirement,
  },
} as const;

const problemResponse = (description: string) =>
  ({
    description,
    content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
  }) as const;

/**
 * Every status the /v1 routes may answer with a problem, so that the OpenAPI document lists them all — under the
 * media type they are served as (RFC 9457's `application/problem+json`), which is also what selects this serializer.
 */
export const errorResponses = {
  400: problemResponse('The request is malformed or off the schema; `errors` lists every violation'),
  401: problemResponse('No valid access token'),
  403: problemResponse('The caller may not do this'),
  404: problemResponse('No such thing, or not the caller’s to see'),
  405: problemResponse('The path does not answer this method; `Allow` lists those it does'),
  409: problemResponse('The thing is not in a state that allows this'),
  413: problemResponse('The request body is larger than allowed'),
  415: problemResponse('The request body is not JSON'),
  429: problemResponse('Too many requests; `Retry-After` says when to try again'),
  500: problemResponse('An unexpected error; its cause is logged, not returned'),
  503: problemResponse('The store or the gateway is unavailable'),
} as const;
