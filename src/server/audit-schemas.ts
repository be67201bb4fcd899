/** JSON schemas of the audit routes (validation and the OpenAPI document). */
const text = { type: 'string', minLength: 1, maxLength: 512 } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const hash = { type: 'string', description: 'SHA-256, base64' } as const;

export const eventFilterProperties = {
  actor: text,
  resource: text,
  action: text,
  patientToken: { type: 'string', pattern: '^pt_[A-Za-z0-9_-]{22}$' },
  from: dateTime,
  to: dateTime,
  cursor: { type: 'integer', minimum: 0 },
  order: { type: 'string', enum: ['asc', 'desc'] },
  limit: { type: 'integer', minimum: 1, maximum: 1000 },
} as const;

export const eventPageSchema = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: { seq: { type: 'integer' }, record: { type: 'object', additionalProperties: true } },
      },
    },
    nextCursor: { type: 'integer' },
  },
} as const;

export const checkpointSchema = {
  type: 'object',
  properties: {
    size: { type: 'integer' },
    rootHash: hash,
    signedAt: dateTime,
    keyId: { type: 'string' },
    body: { type: 'string', description: 'the signed text, exactly' },
    signature: { type: 'string', description: 'Ed25519 over the body, base64' },
  },
} as const;

export const signedViewSchema = {
  type: 'object',
  properties: { body: { type: 'string' }, keyId: { type: 'string' }, signature: { type: 'string' } },
} as const;

export const inclusionProofSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    leafIndex: { type: 'integer' },
    treeSize: { type: 'integer' },
    event: {
      type: 'string',
      description: "the event's canonical JSON: its UTF-8 bytes are the leaf",
    },
    leafHash: hash,
    auditPath: { type: 'array', items: hash },
    checkpoint: signedViewSchema,
  },
} as const;

export const consistencyProofSchema = {
  type: 'object',
  properties: {
    fromSize: { type: 'integer' },
    toSize: { type: 'integer' },
    proof: { type: 'array', items: hash },
    from: signedViewSchema,
    to: signedViewSchema,
  },
} as const;

export const verifyReportSchema = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    size: { type: 'integer' },
    rootHash: hash,
    checkpointsVerified: { type: 'integer' },
    signedSize: { type: 'integer' },
    sources: { type: 'array', items: { type: 'string' } },
    firstBadSeq: {
      type: 'integer',
      description: 'the first event found altered, missing or out of place (an exact finding, never a range)',
    },
    inconsistentRange: {
      type: 'object',
      description:
        'the first range a signed checkpoint covers that is inconsistent with it, when no exact finding explains it',
      properties: { from: { type: 'integer' }, to: { type: 'integer' } },
    },
    problems: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          seq: { type: 'integer' },
          lastSeq: { type: 'integer', description: 'for a problem located only to a range: its last event' },
        },
      },
    },
  },
} as const;
